"""Wiring dash-stash into a Dash app: the session cookie, token minting, and callback wrapping.

Dash has no public hook around a callback's arguments and return value, so we wrap two
places of every server callback, checked at each request so that callbacks registered late
are covered too:

- the dispatch entry (`callback_map[id]["callback"]`): it sees the request's flat input and
  state values in order, so it swaps each store token for the stored value, and removes the
  hidden `State(store, "data")` we add to callbacks that write a store without reading it
  (the browser must send us the token so we know which tab's value to write);
- the user function inside it (the `func` cell of Dash's `add_context` closure): it sees the
  returned value before Dash serializes it, so it commits store outputs and returns tokens.

If a Dash release changes either place, `init` fails loudly instead of storing nothing.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import inspect
import logging
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dash import Dash
from dash._callback import NoUpdate
from dash._grouping import flatten_grouping, map_grouping
from dash._utils import inputs_to_dict, stringify_id

from . import codec, scopes, web
from .backends import Retention, StoreKey, open_backend
from .component import Store, StoreRegistry, StoreSpec
from .engine import Merge, PatchWrite, Replace, StashEngine
from .engine.patch import is_patch, patch_operations
from .errors import BackendError, StashError, TokenError
from .tokens import Signer, Token

log = logging.getLogger("dash_stash")

DEFAULT_DIR = ".dash_stash"
_CALL: contextvars.ContextVar[CallbackCall | None] = contextvars.ContextVar(
    "dash_stash_call", default=None
)


def default_backend_url() -> str:
    """`DASH_STASH_BACKEND`, else a SQLite file under ./.dash_stash/."""
    return os.environ.get("DASH_STASH_BACKEND") or f"sqlite:///{DEFAULT_DIR}/stash.db"


def init(
    app: Dash,
    backend: str | None = None,
    secret: str | bytes | None = None,
    *,
    namespace: str | None = None,
    max_value_bytes: int = 512 * 1024 * 1024,
    retention: Retention | None = None,
    cookie_name: str = web.COOKIE,
) -> Stash:
    """Give `app` server-side stores. Call once per app, before it serves requests.

    `backend` is a URL (`memory://`, `sqlite:///path.db`, `redis://host:port/0`); without it,
    `DASH_STASH_BACKEND`, else SQLite under `./.dash_stash/`. `secret` signs tokens: else
    `DASH_STASH_SECRET`, else the Flask `secret_key`, else one generated once and kept in
    the backend so that every worker agrees.
    """
    stash = Stash(app, backend or default_backend_url(), secret, namespace=namespace,
                  max_value_bytes=max_value_bytes, retention=retention, cookie_name=cookie_name)
    app._dash_stash = stash  # type: ignore[attr-defined]
    return stash


def current_stash(what: str) -> Stash | None:
    """The stash of the app serving this request; None outside a request."""
    if not web.in_request():
        return None
    stash = web.current_owner()
    if stash is None:
        raise StashError(
            f"{what}: this app has no dash-stash; call dash_stash.init(app) after creating it"
        )
    return stash


@dataclass
class Located:
    """Where one store's value lives for this request, and what the browser sent for it."""

    spec: StoreSpec
    key: StoreKey
    token: Token | None  # None: no valid token, so `key` is a fresh instance
    seed: str


@dataclass
class Loaded:
    """A store value a callback read, kept so that its write can merge from it."""

    located: Located
    version: int
    encoded: codec.Encoded | None  # None: read the layout data (never written)


class Stash:
    """dash-stash for one app: its engine, its signer, and its callback wiring."""

    def __init__(self, app: Dash, backend_url: str, secret: str | bytes | None, *,
                 namespace: str | None, max_value_bytes: int, retention: Retention | None,
                 cookie_name: str) -> None:
        self.app = app
        self.namespace = namespace or _default_namespace(app)
        self.engine = StashEngine(open_backend(backend_url, retention),
                                  max_value_bytes=max_value_bytes)
        self.signer = Signer(self._secret(secret), self.namespace)
        self.stores = StoreRegistry()  # this app's stores: seen in its layouts or minted
        self._seeded: dict[str, float] = {}  # seed hash -> when this process last kept it
        self._wrapped_state: tuple[int, int] | None = None
        self._wrap_lock = threading.Lock()
        web.FlaskWeb(cookie_name).install(app.server, self, self.wrap_callbacks)
        self._check_dash_internals()

    # -- secret and session ------------------------------------------------------------

    def _secret(self, secret: str | bytes | None) -> str | bytes:
        secret = secret or os.environ.get("DASH_STASH_SECRET") or self.app.server.secret_key
        if secret:
            return secret
        key = StoreKey(self.namespace, "", "app", "secret")
        fresh = codec.encode(secrets.token_hex(32))
        record = self.engine.backend.commit(
            key, lambda latest: latest.value if latest else fresh, ttl=100 * 365 * 86400.0
        )
        return str(codec.decode(record.value))

    def session_id(self) -> str:
        return web.session_id()

    # -- tokens ------------------------------------------------------------------------

    def mint(self, store: Store) -> str:
        """The token a layout's `Store` sends to the browser for a fresh scope instance."""
        spec = self.own(store)
        token = Token(stringify_id(store.id), spec.scope, scopes.new_instance(spec.scope), 0,
                      spec.seed, spec.ttl, _policy_name(spec.on_conflict))
        return self.signer.sign(token, self.session_id())

    def own(self, store: Store) -> StoreSpec:
        """Record `store` as one of this app's stores, its layout data kept as its seed."""
        spec = store._stash_spec
        if store._stash_seed is None:  # once per Store object: a static layout encodes once
            store._stash_seed = None, ""
            if store._stash_initial is not None:
                encoded = self.engine.encode(store._stash_initial, stringify_id(store.id))
                seed = hashlib.blake2b(encoded.codec.encode() + b"\0" + encoded.data,
                                       digest_size=16).hexdigest()
                store._stash_seed = encoded, seed
        encoded, spec.seed = store._stash_seed
        if encoded is not None and time.monotonic() - self._seeded.get(spec.seed, -1e9) > 3600:
            # At most hourly per process: keep the seed alive, write it only if it is absent.
            key = self._seed_key(spec.seed)
            if not self.engine.backend.touch(key, scopes.SEED_TTL):
                self.engine.backend.commit(key, encoded, ttl=scopes.SEED_TTL, writer="layout")
            self._seeded[spec.seed] = time.monotonic()
        self.stores.add(store.id, spec)
        return spec

    def spec_from_token(self, component_id: Any, sent: Any) -> StoreSpec | None:
        """Recognise a store this process has not seen (a page's layout function ran on
        another worker) by the token the browser sent; None if it is not one of ours."""
        try:
            token = self.signer.verify(sent, self.session_id())
        except TokenError:
            return None
        if token.store_id != stringify_id(component_id) or token.scope not in scopes.SCOPES:
            return None
        policy = token.policy if token.policy in ("last-writer-wins", "raise") else None
        if policy is None:
            log.warning("dash-stash: store %s resolves conflicts with a function this process "
                        "has not seen; it uses last-writer-wins here. Put the store in the "
                        "app's layout or validation_layout so every worker knows it.",
                        token.store_id)
        spec = StoreSpec(token.scope, token.ttl or scopes.DEFAULT_TTL[token.scope],
                         policy or "last-writer-wins", token.seed, raw_id=component_id)
        self.stores.add(component_id, spec)
        return spec

    def _own_layouts(self) -> None:
        """Find the stores of the app's layout, its validation layout and its static page
        layouts, so that every worker knows them before any of them serves a page."""
        import dash

        layouts = [self.app._layout_value(), self.app.validation_layout]  # Dash calls both
        layouts += [page.get("layout") for page in dash.page_registry.values()]
        for layout in layouts:
            if callable(layout) or layout is None:
                continue  # a page's layout function: its stores are owned when minted
            nodes = [layout] if isinstance(layout, Store) else []
            if hasattr(layout, "_traverse"):
                nodes += list(layout._traverse())
            elif isinstance(layout, (list, tuple)):
                for item in layout:
                    nodes += [item, *getattr(item, "_traverse", lambda: [])()]
            for node in nodes:
                if isinstance(node, Store):
                    self.own(node)

    def _seed_key(self, seed: str) -> StoreKey:
        return StoreKey(self.namespace, "", "seed", seed)

    def seed_value(self, seed: str) -> Any:
        """The layout data a store starts from (None when the layout gave none)."""
        if not seed:
            return None
        record = self.engine.backend.read(self._seed_key(seed), scopes.SEED_TTL)
        return codec.decode(record.value) if record else None

    def locate(self, component_id: Any, sent: Any, spec: StoreSpec) -> Located:
        """Check what the browser sent for a store and say where its value lives."""
        store_id = stringify_id(component_id)
        token = None
        if sent is not None:
            try:
                token = self.signer.verify(sent, self.session_id())
                if token.store_id != store_id or token.scope != spec.scope:
                    raise TokenError("token of another store")
            except TokenError as exc:
                log.warning("dash-stash: store %s: ignoring the token the browser sent (%s); "
                            "the store starts from its layout data", store_id, exc)
                token = None
        if token is not None:
            instance = token.instance
        elif sent is None:
            instance = scopes.unbound_instance(spec.scope)
        else:  # a bad token: a fresh instance, so it can reach nothing that exists
            instance = scopes.new_instance(spec.scope)
        key = StoreKey(self.namespace, self.session_id(), instance, store_id)
        return Located(spec, key, token, token.seed if token else spec.seed)

    # -- callback wiring ---------------------------------------------------------------

    def _check_dash_internals(self) -> None:
        """Fail at init, not silently at the first click, if Dash's internals moved."""
        from dash import Input, Output
        from dash._callback import register_callback

        callback_map: dict = {}
        register_callback([], callback_map, False, Output("probe", "children"),
                          Input("probe-in", "value"))(lambda value: value)
        cb = next(iter(callback_map.values()))
        _func_cell(cb["callback"])
        for name in ("state", "inputs", "output", "outputs_indices"):
            if name not in cb:
                raise StashError(f"dash-stash does not support this Dash version: its callback "
                                 f"map has no {name!r}; please report it with your Dash version")

    def wrap_callbacks(self) -> None:
        """Wrap callbacks registered since last time, and add hidden States to writers."""
        state = (len(self.app.callback_map), self.stores.generation)
        if state == self._wrapped_state:
            return
        with self._wrap_lock:
            if self._wrapped_state is None:  # first request: Dash has set itself up
                self._own_layouts()
            for callback_id, cb in list(self.app.callback_map.items()):
                if "callback" not in cb:  # clientside callbacks have no server part
                    continue
                if cb.get("background"):
                    _refuse_stores_in_background(cb, self.stores)
                    continue
                if "_dash_stash" not in cb:
                    cb["_dash_stash"] = {"user_states": len(cb["state"]), "hidden": []}
                    _wrap(self, callback_id, cb)
                self._add_hidden_states(callback_id, cb)
            self._wrapped_state = state

    def _add_hidden_states(self, callback_id: str, cb: dict) -> None:
        outputs = cb["output"] if isinstance(cb["output"], (list, tuple)) else [cb["output"]]
        read = {(d["id"], d["property"]) for d in cb["inputs"] + cb["state"]}
        for out in outputs:
            prop = out.component_property.split("@")[0]
            dep = {"id": out.component_id_str(), "property": "data"}
            if prop in ("data", "clear_data") and (dep["id"], "data") not in read \
                    and self.stores.matches(out.component_id):
                cb["state"].append(dep)
                for spec in self.app._callback_list:  # the copy the browser downloads
                    if spec["output"] == callback_id and spec["state"] is not cb["state"]:
                        spec["state"].append(dep)
                cb["_dash_stash"]["hidden"].append(dep)
                read.add((dep["id"], "data"))


@dataclass
class CallbackCall:
    """One run of one callback: the stores it read, and where its writes go."""

    stash: Stash
    name: str
    outputs_indices: Any
    writes: set[str]  # ids of the stores this callback outputs: only they need a merge base
    located: dict[str, Located] = field(default_factory=dict)
    loaded: dict[str, Loaded] = field(default_factory=dict)

    def read(self, dep: dict) -> Any:
        """The value of one Input/State entry of the request (stores: the stored value)."""
        if dep["property"] != "data" or dep.get("value") is None:
            return dep.get("value")  # not a store's data, or a cleared one: None, as dcc.Store
        spec = self.stash.stores.get(dep["id"]) \
            or self.stash.spec_from_token(dep["id"], dep["value"])
        if spec is None:
            return dep.get("value")  # not a store of this app
        store_id = stringify_id(dep["id"])
        with self.errors(store_id):
            located = self.locate(dep)
            value, record = self.stash.engine.read(
                located.key, ttl=spec.ttl, initial=lambda: self.stash.seed_value(located.seed),
                label=store_id,
            )
            if store_id in self.writes:
                self.loaded[store_id] = Loaded(located, record.version if record else 0,
                                               record.value if record else None)
            return value

    def locate(self, dep: dict) -> Located:
        store_id = stringify_id(dep["id"])
        if store_id not in self.located:
            spec = self.stash.stores.get(dep["id"])
            assert spec is not None
            self.located[store_id] = self.stash.locate(dep["id"], dep.get("value"), spec)
        return self.located[store_id]

    def write(self, out: dict, value: Any) -> Any:
        """Commit one `data`/`clear_data` output; return what the browser receives."""
        prop = out["property"].split("@")[0]
        spec = self.stash.stores.get(out["id"])
        if spec is None or prop not in ("data", "clear_data") or isinstance(value, NoUpdate):
            return value
        store_id = stringify_id(out["id"])
        with self.errors(store_id):
            located = self.locate({"id": out["id"], "value": None}) \
                if store_id not in self.located else self.located[store_id]
            if prop == "clear_data":
                if value and located.token:
                    self.stash.engine.delete(located.key)
                return value
            loaded = self.loaded.get(store_id)
            if is_patch(value):
                write = PatchWrite(patch_operations(value))
            elif loaded is not None:
                write = Merge(lambda: self._base(loaded), loaded.version, value, spec.on_conflict)
            else:
                write = Replace(value)
            record = self.stash.engine.commit(
                located.key, write, ttl=spec.ttl, writer=self.name, label=store_id,
                initial=lambda: self.stash.seed_value(located.seed),
            )
            token = Token(store_id, spec.scope, located.key.scope, record.version, located.seed,
                          spec.ttl, _policy_name(spec.on_conflict))
            return self.stash.signer.sign(token, self.stash.session_id())

    def _base(self, loaded: Loaded) -> Any:
        """A fresh copy of what the callback read (it may have changed the one it got)."""
        if loaded.encoded is not None:
            return codec.decode(loaded.encoded)
        return self.stash.seed_value(loaded.located.seed)

    def write_outputs(self, result: Any, outputs_list: Any) -> Any:
        """Commit every store output of `result`; return `result` with tokens in their place."""
        if isinstance(outputs_list, dict):  # a single Output
            return self._write_one(outputs_list, result)
        if isinstance(result, NoUpdate) or not outputs_list:
            return result
        flat = flatten_grouping(result, self.outputs_indices)
        done = [self._write_one(out, value) for out, value in zip(outputs_list, flat, strict=True)]
        grouped = map_grouping(lambda i: done[i], self.outputs_indices)
        return tuple(grouped) if isinstance(result, tuple) else grouped

    def _write_one(self, out: Any, value: Any) -> Any:
        if isinstance(out, list):  # ALL / ALLSMALLER: one value per matched component
            if isinstance(value, NoUpdate):
                return value
            return [self.write(o, v) for o, v in zip(out, value, strict=True)]
        return self.write(out, value)

    def errors(self, store_id: str) -> _ErrorContext:
        return _ErrorContext(store_id, self.name)


class _ErrorContext:
    """Says which store and which callback an error is about, and turns I/O errors into ours."""

    def __init__(self, store_id: str, callback: str) -> None:
        self.where = f"callback {callback!r}, store {store_id!r}"

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        if isinstance(exc, StashError):
            exc.args = (f"{self.where}: {exc.args[0] if exc.args else exc}",)
            return False
        if isinstance(exc, (OSError, ConnectionError)) or "sqlite3" in type(exc).__module__ \
                or "redis" in type(exc).__module__:
            raise BackendError(
                f"{self.where}: the dash-stash backend failed ({type(exc).__name__}: {exc}); "
                "the stored value is unchanged. Check that the backend is up and reachable."
            ) from exc
        return False


def _wrap(stash: Stash, callback_id: str, cb: dict) -> None:
    """Install the two wrappers described at the top of this module."""
    dispatch = cb["callback"]
    cell = _func_cell(dispatch)
    func = cell.cell_contents
    name = getattr(func, "__name__", callback_id)
    user_states = cb["_dash_stash"]["user_states"]

    def before(args: tuple, kwargs: dict) -> tuple:
        """Swap tokens for values and take our hidden States out of Dash's sight."""
        g = kwargs.get("callback_context")
        if g is None:
            return args
        hidden = g.states_list[user_states:]
        if hidden:
            g.states_list = g.states_list[:user_states]
            g.state_values = inputs_to_dict(g.states_list)
            args = args[: len(args) - len(hidden)]
        writes = {stringify_id(out["id"]) for out in _flat(g.outputs_list)}
        call = CallbackCall(stash, name, cb.get("outputs_indices"), writes)
        args = tuple(_read_dep(call, dep, arg)
                     for dep, arg in zip(g.inputs_list + g.states_list, args, strict=True))
        for dep in hidden:
            if isinstance(dep, dict) and (stash.stores.get(dep["id"]) or dep.get("value")
                                          and stash.spec_from_token(dep["id"], dep["value"])):
                call.locate(dep)
        _CALL.set(call)
        return args

    def commit(result: Any) -> Any:
        call = _CALL.get()
        if call is None:
            return result
        from dash import callback_context

        return call.write_outputs(result, callback_context.outputs_list)

    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def inner_async(*a: Any, **kw: Any) -> Any:
            return commit(await func(*a, **kw))

        @functools.wraps(dispatch)
        async def outer_async(*args: Any, **kwargs: Any) -> Any:
            return await dispatch(*before(args, kwargs), **kwargs)

        cell.cell_contents, cb["callback"] = inner_async, outer_async
    else:
        @functools.wraps(func)
        def inner(*a: Any, **kw: Any) -> Any:
            return commit(func(*a, **kw))

        @functools.wraps(dispatch)
        def outer(*args: Any, **kwargs: Any) -> Any:
            return dispatch(*before(args, kwargs), **kwargs)

        cell.cell_contents, cb["callback"] = inner, outer


def _refuse_stores_in_background(cb: dict, stores: StoreRegistry) -> None:
    """Background callbacks run in another process with no request: say so, don't pass tokens."""
    if cb.get("_dash_stash_refuses"):
        return
    dispatch = cb["callback"]

    @functools.wraps(dispatch)
    def refuse(*args: Any, **kwargs: Any) -> Any:
        g = kwargs.get("callback_context")
        deps = [] if g is None else g.inputs_list + g.states_list + _as_list(g.outputs_list)
        for dep in deps:
            for d in dep if isinstance(dep, list) else [dep]:
                if isinstance(d, dict) and stores.get(d.get("id")) is not None:
                    raise StashError(
                        f"background callback {getattr(dispatch, '__name__', '')!r} uses "
                        f"dash-stash store {stringify_id(d['id'])!r}; background callbacks "
                        "cannot use stores yet. Read the store in a normal callback and pass "
                        "what the background job needs through another component."
                    )
        return dispatch(*args, **kwargs)

    cb["callback"], cb["_dash_stash_refuses"] = refuse, True


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _flat(outputs_list: Any) -> list[dict]:
    """Every output entry of a request, wildcard groups flattened."""
    flat: list[dict] = []
    for out in _as_list(outputs_list or []):
        flat += [o for o in _as_list(out) if isinstance(o, dict) and "id" in o]
    return flat


def _read_dep(call: CallbackCall, dep: Any, arg: Any) -> Any:
    if isinstance(dep, list):  # ALL / ALLSMALLER: a list of entries
        return [call.read(d) for d in dep]
    if isinstance(dep, dict) and "id" in dep:
        return call.read(dep)
    return arg


def _func_cell(dispatch: Callable) -> Any:
    """The closure cell of Dash's `add_context` that holds the user's function."""
    func = getattr(dispatch, "__wrapped__", None)
    names = getattr(getattr(dispatch, "__code__", None), "co_freevars", ())
    for name, cell in zip(names, dispatch.__closure__ or (), strict=False):
        if name == "func" and cell.cell_contents is func:
            return cell
    raise StashError(
        "dash-stash cannot find the user function inside Dash's callback wrapper; this Dash "
        "version is not supported yet (dash-stash supports Dash 3.x and 4.x). Please report it."
    )


def _policy_name(policy: Any) -> str:
    return policy if isinstance(policy, str) else "function"


def _default_namespace(app: Dash) -> str:
    name = app.config.get("name") or "app"
    if name == "__main__":
        name = Path(sys.argv[0]).stem or "app"
    return f"{name}{app.config.get('requests_pathname_prefix') or '/'}"
