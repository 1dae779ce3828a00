"""Background callbacks (`background=True`, Dash's DiskcacheManager and CeleryManager) that
read and write stores.

A background job runs in another process (a diskcache subprocess, a Celery worker), outside
any request, so it can neither check a browser token (bound to the session id, which never
leaves the web server) nor sign one. And whatever Dash hands a job or keeps of its result
goes through the manager (dill, pickle, JSON), so no stored value may travel that way. So:

1. The web server, when the browser starts the job, checks each store token and gives the
   job a signed `JobRef` instead (the store's place and the version it is at), in the
   job's arguments where the value would be. Dash keys its result cache by those arguments,
   so a result is never served for another store version (or another tab, or session).
   The places of the stores the job writes, and what it needs to check that it reaches the
   same backend, go in the job's callback context under `JOB_KEY`.
2. In the job's process, Dash calls the user's function through the job function it made
   when the callback was registered; we put a wrapper in that function's `fn` cell
   (`wrap_jobs`, run before each job starts: in the web process, whose diskcache subprocess
   inherits it, and in a Celery worker through `task_prerun`). The wrapper finds the app by
   its namespace (the worker imported the app module, so `dash_stash.init(app)` ran
   there), reads each referenced version from the shared backend, runs the function, and
   commits its returned value, its `set_progress` values and its `set_props` to stores with
   the usual rules (Patch, three-way merge from what the job read, replace) through
   `Stash.commit`. Dash keeps a receipt (a `JobRef` of the committed version) instead.
3. When the browser polls, the web server turns each receipt into a browser token for the
   same session (`deliver`); a receipt of another session is refused.

A cancelled job is killed by its manager: what it had not committed stays uncommitted. A
background callback that writes a store never shares Dash's result cache with an earlier
run (`_cache_key`): a cached result would skip the write.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import importlib.util
import inspect
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import codec
from .._types import StoreSpec
from ..backends import Record, StoreKey
from ..engine import Merge, PatchWrite, Replace
from ..errors import StashError, TokenError
from ..tokens import JobRef, Token, is_job_ref, job_namespace
from . import _compat, web
from ._compat import stringify_id
from .callbacks import (
    _CALL,
    CallbackCall,
    Loaded,
    _check_declared,
    _flat,
    refuse_unread_patch,
    strip_hidden,
)
from .integration import Located, Stash, stashes

log = logging.getLogger("dash_stash")

JOB_KEY = "dash_stash"  # our entry in the callback context Dash hands the job
_BACKEND_ID_TTL = 100 * 365 * 86400.0
# Set while the web server starts a job that writes a store: its cache key gets this nonce.
_NONCE: contextvars.ContextVar[str | None] = contextvars.ContextVar("dash_stash_job", default=None)


# ---- the web server: starting a job, and delivering its result ---------------------------


def wrap_background(stash: Stash, callback_id: str, cb: dict) -> None:
    """Wrap a background callback's dispatch entry: on the request that starts the job,
    swap store tokens for `JobRef`s; on the requests that poll it, receipts for tokens."""
    dispatch = cb["callback"]
    name = getattr(dispatch, "__name__", callback_id)
    user_states = cb["_dash_stash"]["user_states"]

    def start(args: tuple, kwargs: dict) -> tuple[tuple, CallbackCall | None]:
        """The args Dash gets, and the call when this request starts a job (None when it
        polls one, or is no callback request)."""
        g = kwargs.get("callback_context")
        if g is None:
            return args, None
        _check_declared(stash, name, cb, g.inputs_list + g.states_list)
        args, hidden = strip_hidden(g, args, user_states)
        if web.request_args().get("cacheKey"):
            return args, None  # Dash reads the result: the job has its arguments already
        wrap_jobs()
        return _job_arguments(stash, name, cb, g, args, hidden)

    if inspect.iscoroutinefunction(dispatch):

        @functools.wraps(dispatch)
        async def outer_async(*args: Any, **kwargs: Any) -> Any:
            args, call = start(args, kwargs)
            if call is None:
                return deliver(stash, await dispatch(*args, **kwargs))
            with _nonce(kwargs):
                return _defaults(call, await dispatch(*args, **kwargs))

        cb["callback"] = outer_async
    else:

        @functools.wraps(dispatch)
        def outer(*args: Any, **kwargs: Any) -> Any:
            args, call = start(args, kwargs)
            if call is None:
                return deliver(stash, dispatch(*args, **kwargs))
            with _nonce(kwargs):
                return _defaults(call, dispatch(*args, **kwargs))

        cb["callback"] = outer


def _defaults(call: CallbackCall, response: Any) -> Any:
    """The response that starts a job, with a token for each store's `progress_default`.

    The browser sets a progress output to its default when the job ends or is cancelled,
    while the job's progress values went to the store's instance; so the default's token
    names a new instance that starts from the default value: the store reads it from then
    on, as a `dcc.Store` would hold it (`local` stores cannot: `_job_arguments`)."""
    if not isinstance(response, str) or '"progressDefault"' not in response:
        return response
    data = json.loads(response)
    defaults = data.get("progressDefault") or {}
    for key, value in defaults.items():
        component, _, prop = key.rpartition(".")
        raw = _raw_id(component)
        spec = call.spec_of(raw) if prop == "data" else None
        if spec is None:
            continue
        with call.errors(component):
            defaults[key] = call.stash.fresh_with(raw, spec, value)
    return json.dumps(data)


@contextlib.contextmanager
def _nonce(kwargs: dict) -> Iterator[None]:
    """While Dash builds the cache key of a job that writes a store: a fresh nonce."""
    g = kwargs.get("callback_context") or {}
    writes = (g.get(JOB_KEY) or {}).get("writes")
    reset = _NONCE.set(secrets.token_hex(8) if writes else None)
    try:
        yield
    finally:
        _NONCE.reset(reset)


def _job_arguments(
    stash: Stash, name: str, cb: dict, g: Any, args: tuple, hidden: list
) -> tuple[tuple, CallbackCall]:
    """The job's arguments: a `JobRef` for each store it reads. Record in the context `g`
    where its writes go and how the job finds the backend."""
    progress = (cb.get("background") or {}).get("progress")
    deps = g.inputs_list + g.states_list
    writes_ids = {stringify_id(o["id"]) for o in _flat(g.outputs_list)}
    call = CallbackCall(stash, name, cb.get("outputs_indices"), writes_ids)
    refs = _Refs(stash, call)
    args = tuple(refs.argument(dep, arg) for dep, arg in zip(deps, args, strict=True))
    for dep in _flat(hidden):  # where the writes go: the tokens of stores it only writes
        if stash.stores.get(dep["id"]) or (
            dep.get("value") and stash.spec_from_token(dep["id"], dep["value"])
        ):
            refs.locate(dep)
    targets = [o for o in _flat(g.outputs_list) if _prop(o) in ("data", "clear_data")]
    progress_ids = []
    defaults = (cb.get("background") or {}).get("progressDefault")
    for p in progress or []:
        is_data = _prop({"property": p.component_property}) == "data"
        spec = call.spec_of(p.component_id) if is_data else None
        if spec is None:
            progress_ids.append("")
            continue
        if defaults is not None and spec.scope == "local":
            raise StashError(
                f"background callback {name!r}: store {stringify_id(p.component_id)!r} has "
                "storage_type='local', which keeps one value per browser, so it cannot "
                "return to its progress_default when the job ends while the job's progress "
                "stays; give it storage_type 'memory' or 'session', or no progress_default"
            )
        targets.append({"id": p.component_id})
        progress_ids.append(stringify_id(p.component_id))
    writes = {}
    for out in targets:
        store_id = stringify_id(out["id"])
        if store_id not in call.located and call.spec_of(out["id"]) is None:
            continue  # not a store (of this app, rendered by any process)
        located = refs.locate({"id": out["id"], "value": None})
        writes[store_id] = refs.ref(store_id, located, _version_of(located))
    if writes:
        call.check_session(next(iter(writes)))
    g[JOB_KEY] = {
        "namespace": stash.namespace,
        "session": stash.session_key(),
        "reads": refs.count - len(writes),
        "backend": backend_name(stash),
        "backend_id": backend_id(stash),
        "callback": name,
        "outputs_indices": cb.get("outputs_indices"),
        "writes": writes,
        "progress": None if progress is None else progress_ids,
    }
    return args, call


def _version_of(located: Located) -> int:
    return located.token.version if located.token is not None else 0


def _prop(entry: dict) -> str:
    return str(entry.get("property", "")).split("@")[0]


@dataclass
class _Refs:
    """Signs `JobRef`s for the stores of one request that starts a job."""

    stash: Stash
    call: CallbackCall
    count: int = 0  # references signed

    def argument(self, dep: Any, arg: Any) -> Any:
        """What the job gets in place of the value of one Input/State entry."""
        if isinstance(dep, list):  # ALL / ALLSMALLER: a list of entries
            return [self.argument(d, None) for d in dep]
        if not isinstance(dep, dict) or "id" not in dep:
            return arg
        if self.call.store_spec(dep) is None:
            return dep.get("value")
        store_id = stringify_id(dep["id"])
        with self.call.errors(store_id):
            located = self.locate(dep)
            head = self.stash.engine.backend.head(located.key)
            return self.ref(store_id, located, head.version if head else 0)

    def locate(self, dep: dict) -> Located:
        return self.call.locate(dep)

    def ref(self, store_id: str, located: Located, version: int) -> str:
        self.count += 1
        ref = _job_ref(self.stash, store_id, located, version)
        return self.stash.signer.sign_job(ref)


def _job_ref(stash: Stash, store_id: str, located: Located, version: int) -> JobRef:
    """Where a store lives for this job, at `version`, with its options."""
    spec = stash.stores.get(store_id)
    assert spec is not None
    policy = spec.on_conflict if isinstance(spec.on_conflict, str) else "function"
    token = Token(
        store_id,
        spec.scope,
        located.key.scope,
        version,
        located.seed,
        spec.ttl,
        policy,
        stash.typed(spec),
    )
    return JobRef(stash.namespace, located.key.session, token, located.token is not None)


def deliver(stash: Stash, response: Any) -> Any:
    """A poll's response with each store receipt turned into a token for this session."""
    if not isinstance(response, str) or "dsj1." not in response:
        return response
    data = json.loads(response)

    def token(text: Any) -> Any:
        if not is_job_ref(text):
            return text
        try:
            ref = stash.signer.verify_job(text)
        except TokenError as exc:
            raise StashError(f"a background job's result names a store wrongly: {exc}") from None
        if ref.namespace != stash.namespace or ref.session != stash.session_key():
            raise StashError(
                f"a background job's result for store {ref.token.store_id!r} belongs to "
                "another browser session; it was not delivered"
            )
        return stash.signer.sign(ref.token, stash.session_id())

    for part in ("response", "sideUpdate"):
        for props in (data.get(part) or {}).values():
            if isinstance(props, dict) and "data" in props:
                props["data"] = token(props["data"])
    progress = data.get("progress") or {}
    for key, value in progress.items():
        if key.rpartition(".")[2] == "data":
            progress[key] = token(value)
    return json.dumps(data)


def backend_name(stash: Stash) -> str:
    """The backend's URL as a worker must be given it: a SQLite path made absolute, a
    password left out."""
    backend = stash.engine.backend
    path = getattr(backend, "path", None)
    if backend.url.startswith("sqlite:") and path is not None:
        return f"sqlite:///{path.resolve()}"
    scheme, sep, rest = backend.url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.split(':')[0]}:***@{host}"
    return f"{scheme}{sep}{rest}"


def backend_id(stash: Stash) -> str:
    """A random id kept in the backend, so that a job can tell it reaches the same one."""
    key = StoreKey(stash.namespace, "", "app", "backend-id")
    record = stash.engine.backend.read(key)
    if record is None:
        fresh = codec.encode(secrets.token_hex(8))
        record = stash.engine.backend.commit(
            key, lambda latest: latest.value if latest else fresh, ttl=_BACKEND_ID_TTL
        )
    return str(codec.decode(record.value))


# ---- the job's process: reading, running, committing -------------------------------------


def wrap_jobs() -> None:
    """Put our wrapper around the user function of every job function Dash's managers
    made (once each), and give each manager our cache key. Safe to call often."""
    for manager in _compat.background_managers():
        if not getattr(manager.build_cache_key, "_dash_stash", False):
            manager.build_cache_key = _cache_key(manager.build_cache_key)
        for job in list(manager.func_registry.values()):
            cell = _compat.job_fn_cell(job)
            if not getattr(cell.cell_contents, "_dash_stash", False):
                cell.cell_contents = _job_wrapper(cell.cell_contents)


def _cache_key(build: Callable[..., str]) -> Callable[..., str]:
    """Dash's cache key, made unique for a job that writes a store (see `_NONCE`)."""

    @functools.wraps(build)
    def cache_key(*args: Any, **kwargs: Any) -> str:
        key = build(*args, **kwargs)
        nonce = _NONCE.get()
        return key if nonce is None else hashlib.sha256(f"{key}/{nonce}".encode()).hexdigest()

    cache_key._dash_stash = True  # type: ignore[attr-defined]
    return cache_key


def _job_wrapper(fn: Callable) -> Callable:
    """The user function as the job calls it: stores read and committed around it."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            job = Job.start()
            if job is None:
                return await fn(*args, **kwargs)
            args, kwargs = job.arguments(args, kwargs)
            with job.running():
                result = await fn(*args, **kwargs)
            return job.finish(result)

        run_async._dash_stash = True  # type: ignore[attr-defined]
        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        job = Job.start()
        if job is None:
            return fn(*args, **kwargs)
        args, kwargs = job.arguments(args, kwargs)
        with job.running():
            result = fn(*args, **kwargs)
        return job.finish(result)

    run._dash_stash = True  # type: ignore[attr-defined]
    return run


@dataclass
class Job:
    """One background job that uses stores, in the process that runs it."""

    call: JobCall
    info: dict
    context: Any

    @classmethod
    def start(cls) -> Job | None:
        """The job Dash is running in this context; None if it is none of a stash app's."""
        context = _compat.callback_context()
        info = context.get(JOB_KEY) if isinstance(context, dict) else None
        if not info:
            return None
        stash = stashes().get(info["namespace"])
        if stash is None and not (info["writes"] or info["reads"]):
            return None  # a job that declares no store, in a worker without the app
        if stash is None:
            raise StashError(
                f"background callback {info['callback']!r}: this worker process has no app "
                f"with dash-stash namespace {info['namespace']!r}; the worker must import the "
                "module that creates the app and calls dash_stash.init(app) (with the same "
                "namespace as the web server)"
            )
        _know_stores(stash)
        call = JobCall(stash, info["callback"], info["outputs_indices"], set(info["writes"]))
        call.info = info
        for store_id, text in info["writes"].items():
            call.add(store_id, text)
        return cls(call, info, context)

    def arguments(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """The user function's arguments: each `JobRef` read; set_progress and set_props
        committing stores."""
        if self.info.get("progress") is not None and args:
            args = (self._progress(args[0]), *args[1:])
        proxy = self.context.get("updated_props")
        on_change = getattr(proxy, "on_change", None)
        if on_change is not None:
            proxy.on_change = lambda id_, props: on_change(id_, self.call.set_props(id_, props))
        args = tuple(self.call.read_all(a) for a in args)
        kwargs = {k: self.call.read_all(v) for k, v in kwargs.items()}
        return args, kwargs

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """While the user function runs: `dash_stash.history` / `restore` see this call."""
        reset = _CALL.set(self.call)
        try:
            yield
        finally:
            _CALL.reset(reset)

    def finish(self, result: Any) -> Any:
        """Commit the returned value's store outputs; Dash keeps receipts instead."""
        return self.call.write_outputs(result, self.context.get("outputs_list"))

    def _progress(self, set_progress: Callable) -> Callable:
        stores = self.info["progress"]

        @functools.wraps(set_progress)
        def progress(value: Any) -> Any:
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            for i, store_id in enumerate(stores):
                if store_id and i < len(values):
                    out = {"id": _raw_id(store_id), "property": "data"}
                    values[i] = self.call.write(out, values[i])
            return set_progress(values)

        return progress


def _know_stores(stash: Stash) -> None:
    """In a worker that never served a page (Celery), learn the stores of the app's static
    layouts, as a web worker does at its first request: `set_props` on a store the job does
    not declare needs its options, and a conflict resolver function its function."""
    if stash.stores.generation:
        return  # a web process, or the diskcache subprocess forked from one
    stash.own_layouts()  # outside a request: no session, so no session's seed is kept


def check_backend(stash: Stash, info: dict) -> None:
    """Refuse to read or write stores from a process that does not reach the web server's
    backend, naming the one it needs."""
    needed, name = info["backend"], info["callback"]
    mine = backend_name(stash)
    if mine.startswith("memory:"):
        raise StashError(
            f"background callback {name!r}: the job runs in another process than the web "
            f"server, and the app's dash-stash backend {mine!r} lives in one process only, so "
            "the job cannot read or write its stores. Give the app (web server and workers) a "
            "backend every process reaches: sqlite:///<path> on one host, or redis://..."
        )
    if needed.startswith("memory:") or backend_id(stash) != info["backend_id"]:
        raise StashError(
            f"background callback {name!r}: this worker's dash-stash backend {mine!r} is not "
            f"the one the web server keeps the stores in; the worker needs {needed!r} "
            f"(set DASH_STASH_BACKEND={needed} for the worker, or pass it to dash_stash.init)"
        )


def _raw_id(store_id: str) -> Any:
    return json.loads(store_id) if store_id.startswith("{") else store_id


@dataclass
class JobCall(CallbackCall):
    """A callback run inside a background job: stores are named by `JobRef`s, and writes
    answer receipts (`JobRef`s of the committed version), not browser tokens."""

    refs: dict[str, JobRef] = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # what the web server put in the job's context
    checked: bool = False  # the backend is the web server's (`check_backend`)

    def reachable(self) -> None:
        if not self.checked:
            check_backend(self.stash, self.info)
            self.checked = True

    def add(self, store_id: str, text: str) -> JobRef:
        """Know where a store the job uses lives, from its `JobRef`."""
        self.reachable()
        ref = self.verify(text)
        if ref.token.store_id != store_id:
            raise StashError(f"a job reference of {ref.token.store_id!r} given for {store_id!r}")
        t = ref.token
        if self.stash.stores.get(store_id) is None:
            policy = t.policy if t.policy in ("last-writer-wins", "raise") else "last-writer-wins"
            raw = _raw_id(store_id)
            self.stash.stores.add(raw, StoreSpec(t.scope, t.ttl, policy, t.typed, raw_id=raw))
        key = StoreKey(self.stash.namespace, ref.session, t.instance, store_id)
        self.located.setdefault(store_id, Located(key, t if ref.bound else None, t.seed))
        self.refs[store_id] = ref
        return ref

    def verify(self, text: str) -> JobRef:
        try:
            ref = self.stash.signer.verify_job(text)
        except TokenError as exc:
            raise StashError(
                f"background callback {self.name!r}: a store reference the web server gave "
                f"this job does not check here ({exc}): the worker signs with another secret. "
                "Give the web server and the workers the same secret (DASH_STASH_SECRET, or "
                "the Flask secret_key, or init(secret=...))"
            ) from None
        if ref.namespace != self.stash.namespace or job_namespace(text) != ref.namespace:
            raise StashError(f"a store reference of another app ({ref.namespace!r})")
        return ref

    def read_all(self, arg: Any) -> Any:
        """An argument with each `JobRef` in it replaced by the version it names."""
        if isinstance(arg, list):
            return [self.read_all(a) for a in arg]
        if isinstance(arg, tuple):
            return tuple(self.read_all(a) for a in arg)
        if isinstance(arg, dict):
            return {k: self.read_all(v) for k, v in arg.items()}
        if not is_job_ref(arg):
            return arg
        text = str(arg)
        store_id = self.verify(text).token.store_id
        ref = self.add(store_id, text)
        spec = self.stash.stores.get(store_id)
        assert spec is not None
        located = self.located[store_id]
        with self.errors(store_id):
            record = self.stash.engine.read_version(located.key, ref.token.version)
            if record is None and ref.token.version:  # no longer kept: the latest
                record = self.stash.engine.backend.read(located.key)
            if record is None:
                value = self.stash.seed_value(located.seed, spec.ttl)
            else:
                value = self.stash.engine.decode(record, store_id, own=store_id not in self.writes)
            self.remember(store_id, located, record)
        return value

    def locate(self, dep: dict) -> Located:
        store_id = stringify_id(dep["id"])
        if store_id not in self.located:
            raise StashError(
                f"background callback {self.name!r} writes store {store_id!r}, whose tab the "
                f"web server did not name for this job; add State({store_id!r}, 'data') to "
                "the callback"
            )
        return self.located[store_id]

    def set_props(self, component_id: Any, props: dict) -> dict:
        """`dash.set_props` inside the job: store values committed, receipts kept. A store
        the job does not declare gets a fresh scope instance, as in any callback."""
        if not isinstance(props, dict) or not props.keys() & {"data", "clear_data"}:
            return props
        spec = self.spec_of(component_id)
        if spec is None:
            return props
        self.reachable()
        store_id = stringify_id(component_id)
        if store_id not in self.located:
            refuse_unread_patch(f"background callback {self.name!r}", store_id, props)
            located = self.stash.locate_fresh(component_id, spec, session=self.info["session"])
            self.located[store_id] = located
            self.refs[store_id] = _job_ref(self.stash, store_id, located, 0)
        props = dict(props)
        for prop in ("clear_data", "data"):
            if prop in props and not is_job_ref(props[prop]):
                props[prop] = self.write({"id": component_id, "property": prop}, props[prop])
        return props

    def reply(self, store_id: str, spec: StoreSpec, located: Located, version: int | None) -> str:
        ref = self.refs[store_id]
        t = ref.token
        version = t.version if version is None else version
        token = Token(store_id, t.scope, t.instance, version, t.seed, t.ttl, t.policy, t.typed)
        return self.stash.signer.sign_job(JobRef(ref.namespace, ref.session, token))

    def check_session(self, store_id: str) -> None:
        """The web server checked the session when it started the job."""

    def written(self, store_id: str, located: Located, record: Record | None, write: Any) -> None:
        """A job writes a store it read several times (progress, set_props, its result):
        each write merges from the job's own last write, never from a value it never saw."""
        loaded = self.loaded.get(store_id)
        if record is None or loaded is None:
            return
        if isinstance(write, PatchWrite):
            self.loaded[store_id] = Loaded(located, record.version, record.value)
            return
        ours = write.value if isinstance(write, Replace) else write.ours
        assert isinstance(write, (Replace, Merge))
        spec = self.stash.stores.get(store_id)
        typed = self.stash.typed(spec) if spec else False
        encoded = self.stash.engine.encode(ours, store_id, typed=typed)
        # Only when the commit is exactly ours may the next merge take it as its base.
        version = record.version if codec.same(record.value, encoded) else loaded.version
        self.loaded[store_id] = Loaded(located, version, encoded)


def install() -> None:
    """In a Celery worker, wrap the job functions before each task runs (the worker
    imported the app module, which called `dash_stash.init`, which called this)."""
    if importlib.util.find_spec("celery") is None:
        return
    from celery.signals import task_prerun

    task_prerun.connect(_before_task, weak=False, dispatch_uid="dash_stash_wrap_jobs")


def _before_task(task: Any = None, **_: Any) -> None:
    if str(getattr(task, "name", "")).startswith("background_callback_"):
        wrap_jobs()
