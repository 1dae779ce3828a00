"""Wiring dash-stash into Dash's callbacks, which stay exactly as their authors wrote them.

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
import inspect
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dash import Patch

from .. import codec
from .._types import StoreSpec
from ..backends import Record
from ..engine import Merge, PatchWrite, Replace, Restore
from ..engine.patch import is_patch, patch_operations
from ..errors import BackendError, StashError
from ..tokens import PREFIX
from . import _compat, web
from ._compat import NoUpdate, flatten_grouping, inputs_to_dict, map_grouping, stringify_id
from .integration import Located, Stash

log = logging.getLogger("dash_stash")


NAMESPACE = "_dash_stash"  # where dash_stash.js serves its clientside wrappers (browser.py)

_CALL: contextvars.ContextVar[CallbackCall | None] = contextvars.ContextVar(
    "dash_stash_call", default=None
)


class CallbackWiring:
    """Keeps every server callback of one app wrapped, checked at the start of each request."""

    def __init__(self, stash: Stash, wrap_background: Callable[[Stash, str, dict], None]) -> None:
        self.stash = stash
        self.wrap_background = wrap_background  # background.py's: it reads this module
        self.app = stash.app
        self.stores = stash.stores
        self._state: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def update(self) -> None:
        """Wrap callbacks registered since last time, and add hidden States to writers."""
        state = (
            len(self.app.callback_map),
            len(_compat.callback_list(self.app)),
            self.stores.generation,
        )
        if state == self._state:
            return
        with self._lock:
            if self._state is None:  # first request: Dash has set itself up
                self.stash.own_layouts()
            for callback_id, cb in list(self.app.callback_map.items()):
                if "callback" not in cb:  # clientside callbacks have no server part
                    continue
                if "_dash_stash" not in cb:
                    cb["_dash_stash"] = {"user_states": len(cb["state"])}
                    if cb.get("background"):
                        self.wrap_background(self.stash, callback_id, cb)
                    else:
                        _wrap(self.stash, callback_id, cb)
                self._add_hidden_states(callback_id, cb)
            wrap_clientside(_compat.callback_list(self.app))
            self._refuse_stores_in_running()
            self._state = state

    def _refuse_stores_in_running(self) -> None:
        """`running=[(Output(store, "data"), on, off)]` is applied by the renderer in the
        browser, where a store holds only its token: refuse it before any page is served."""
        for spec in _compat.callback_list(self.app):
            for target in (spec.get("running") or {}).get("running", {}):
                component, _, prop = target.rpartition(".")
                pattern = json.loads(component) if component.startswith("{") else component
                if prop.split("@")[0] in ("data", "clear_data") and self.stores.matches(pattern):
                    raise StashError(
                        f"callback {spec['output']!r} sets dash-stash store {component!r} "
                        "in running=[...], which the browser applies by itself, where the "
                        "store holds only its token. Show the running state in another "
                        "component, or call dash.set_props on the store from the callback."
                    )

    def _add_hidden_states(self, callback_id: str, cb: dict) -> None:
        """Ask the browser for the token of each store the callback writes without reading."""
        outputs = cb["output"] if isinstance(cb["output"], (list, tuple)) else [cb["output"]]
        outputs = [*outputs, *((cb.get("background") or {}).get("progress") or [])]
        read = {(d["id"], d["property"]) for d in cb["inputs"] + cb["state"]}
        for out in outputs:
            prop = out.component_property.split("@")[0]
            dep = {"id": out.component_id_str(), "property": "data"}
            if (
                prop in ("data", "clear_data")
                and (dep["id"], "data") not in read
                and self.stores.matches(out.component_id)
            ):
                cb["state"].append(dep)
                for spec in _compat.callback_list(self.app):  # the copy the browser downloads
                    if spec["output"] == callback_id and spec["state"] is not cb["state"]:
                        spec["state"].append(dep)
                read.add((dep["id"], "data"))


@dataclass
class Loaded:
    """A store value a callback read, kept so that its write can merge from it."""

    located: Located
    version: int
    # None: read the layout data (never written), or `owned`: the callback's value lives in
    # the buffer it was read into (no copy), so a merge base must be read again (`_base`)
    encoded: codec.Encoded | None
    owned: bool = False


@dataclass(frozen=True)
class Restored:
    """What `dash_stash.restore` returns inside a callback: an old version committed again.

    Return it as the store's `Output` so that the page follows (its token moves to the new
    version and the store's dependent callbacks fire); it is not committed a second time."""

    store_id: str
    record: Record

    @property
    def version(self) -> int:
        return self.record.version


def current_call() -> CallbackCall | None:
    """The callback running in this context; None outside a callback (the wrapper resets it
    when the callback returns)."""
    return _CALL.get()


@dataclass
class CallbackCall:
    """One run of one callback: the stores it read, and where its writes go."""

    stash: Stash
    name: str
    outputs_indices: Any
    writes: set[str] = field(default_factory=set)  # ids of the stores it outputs
    located: dict[str, Located] = field(default_factory=dict)
    loaded: dict[str, Loaded] = field(default_factory=dict)

    def where(self, store_id: str, what: str) -> Located:
        """Where a store this callback reads or writes lives (for `history` / `restore`)."""
        located = self.located.get(store_id)
        if located is None:
            raise StashError(
                f"{what} in callback {self.name!r}: store {store_id!r} is none of its Inputs, "
                "States or Outputs, so dash-stash cannot tell which tab's value is meant; add "
                f"State({store_id!r}, 'data') to the callback"
            )
        return located

    def restore(self, store_id: str, record: Record) -> Restored:
        """Commit `record`'s value as the store's new version."""
        located = self.where(store_id, "dash_stash.restore")
        spec = self.stash.stores.get(located.key.store_id)
        assert spec is not None
        with self.errors(store_id):
            new = self.stash.commit(
                located.key, Restore(record), ttl=spec.ttl, writer=self.name, label=store_id
            )
        return Restored(store_id, new)

    def store_spec(self, dep: dict) -> StoreSpec | None:
        """The spec of the store an Input/State entry carries the token of; None if it is
        not a store's data of this app, or a cleared one (None, as `dcc.Store` gives)."""
        if dep["property"] != "data" or dep.get("value") is None:
            return None
        return self.stash.stores.get(dep["id"]) or self.stash.spec_from_token(
            dep["id"], dep["value"]
        )

    def read(self, dep: dict) -> Any:
        """The value of one Input/State entry of the request (stores: the stored value)."""
        spec = self.store_spec(dep)
        if spec is None:
            return dep.get("value")
        store_id = stringify_id(dep["id"])
        with self.errors(store_id):
            located = self.locate(dep)
            value, record = self.stash.engine.read(
                located.key,
                ttl=spec.ttl,
                initial=lambda: self.stash.seed_value(located.seed, spec.ttl),
                label=store_id,
                own=store_id not in self.writes,  # an Output's base is decoded again to merge
            )
            self.remember(store_id, located, record)
            return value

    def remember(self, store_id: str, located: Located, record: Record | None) -> None:
        """Keep what was read of a store: a write (an Output, or a set_props) merges from it."""
        owned = record is not None and store_id not in self.writes
        self.loaded[store_id] = Loaded(
            located,
            record.version if record else 0,
            record.value if record and not owned else None,
            owned,
        )

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
        if prop not in ("data", "clear_data") or isinstance(value, NoUpdate):
            return value
        spec = self.spec_of(out["id"])
        if spec is None:
            return value
        store_id = stringify_id(out["id"])
        with self.errors(store_id):
            located = self.locate({"id": out["id"], "value": None})  # hidden or read: known
            if isinstance(value, Restored):  # committed by `restore`: the browser follows
                if value.store_id != store_id or prop != "data":
                    raise StashError(
                        f"the result of dash_stash.restore({value.store_id!r}, ...) was "
                        f"returned for {store_id!r}.{prop}; return it for "
                        f"{value.store_id!r}.data"
                    )
                return self.reply(store_id, spec, located, value.record.version)
            if prop == "clear_data" and not value:
                return value  # clears nothing
            self.check_session(store_id)
            if prop == "clear_data":
                self.stash.engine.delete(located.key)
                return value
            loaded = self.loaded.get(store_id)
            typed = self.stash.typed(spec)
            value = _patch_json(value)
            if is_patch(value):
                write = PatchWrite(patch_operations(value))
            elif loaded is not None:
                if loaded.version == 0 and codec.equal(self._base(loaded), value):
                    # Never written and unchanged: keep no copy of its layout data.
                    return self.reply(store_id, spec, located, 0)
                base = loaded.encoded or self.stash.engine.encode(
                    self._base(loaded), store_id, typed=typed
                )
                write = Merge(
                    lambda: self._base(loaded), loaded.version, value, spec.on_conflict, base
                )
            else:
                write = Replace(value)
            record = self.stash.commit(
                located.key,
                write,
                ttl=spec.ttl,
                writer=self.name,
                label=store_id,
                initial=lambda: self.stash.seed_value(located.seed, spec.ttl),
                typed=typed,
                keep_equal=located.token is not None,
            )
            self.written(store_id, located, record, write)
            if record is None:  # unchanged: the browser keeps its token, as dcc.Store its data
                assert located.token is not None
                return self.reply(store_id, spec, located, None)
            return self.reply(store_id, spec, located, record.version)

    def reply(self, store_id: str, spec: StoreSpec, located: Located, version: int | None) -> str:
        """What the browser receives for a written store: a token for `version` (None: the
        token it sent, unchanged)."""
        if version is None:
            assert located.token is not None
            return self.stash.signer.sign(located.token, self.stash.session_id())
        return self.stash.token(store_id, spec, located.key.scope, version, located.seed)

    def written(self, store_id: str, located: Located, record: Record | None, write: Any) -> None:
        """After each commit of this call: a later write of this run (a streamed set_props)
        merges from it. A background job keeps writing differently (background.py)."""
        if record is not None and store_id in self.loaded:
            self.loaded[store_id] = Loaded(located, record.version, record.value)

    def check_session(self, store_id: str) -> None:
        """Refuse (400) a write whose request has no valid session cookie."""
        if not web.has_session():  # 400 (a clear too): the browser must send its cookie
            log.warning(
                "dash-stash: callback %r, store %r: the request has no valid session "
                "cookie (a browser that refuses cookies, or a cookie cleared or forged), "
                "so nothing was written: it could never be read back. The response sets "
                "a new session; the user should reload the page (and allow cookies).",
                self.name,
                store_id,
            )
            web.refuse(
                f"dash-stash: callback {self.name!r}, store {store_id!r}: no valid session "
                "cookie, so nothing was written; reload the page and allow cookies"
            )

    def write_side_updates(self, updated_props: dict) -> None:
        """Commit the stores a callback set with `dash.set_props`, in place: the browser gets
        tokens. A store the callback does not declare gets a fresh scope instance (we do not
        know which tab's it would be), so its value replaces, as `dcc.Store`'s would."""
        for store_id, props in list(updated_props.items()):
            if not isinstance(props, dict) or not props.keys() & {"data", "clear_data"}:
                continue
            spec = self.spec_of(store_id)
            if spec is None:
                continue
            if store_id not in self.located:
                refuse_unread_patch(f"callback {self.name!r}", store_id, props)
                self.located[store_id] = self.stash.locate_fresh(store_id, spec)
            props = dict(props)
            for prop in ("clear_data", "data"):
                if prop in props:
                    out = {"id": spec.raw_id if spec.raw_id is not None else store_id}
                    props[prop] = self.write({**out, "property": prop}, props[prop])
            updated_props[store_id] = props

    def _base(self, loaded: Loaded) -> Any:
        """A fresh copy of what the callback read (it may have changed the one it got)."""
        if loaded.encoded is not None:
            return codec.decode(loaded.encoded)
        if loaded.owned:  # read without a copy (a store it only set_props): read it again
            key = loaded.located.key
            record = self.stash.engine.read_version(key, loaded.version)
            if record is None:
                raise StashError(
                    f"version {loaded.version} of the store, which this callback read, is no "
                    "longer kept, so its set_props value cannot be merged; add the store as "
                    "an Output of the callback, or keep more history (init(retention=...))"
                )
            return codec.decode(record.value)
        spec = self.stash.stores.get(loaded.located.key.store_id)
        return self.stash.seed_value(loaded.located.seed, spec.ttl if spec else 0.0)

    def write_outputs(self, result: Any, outputs_list: Any) -> Any:
        """Commit every store output of `result`; return `result` with tokens in their place."""
        if self.outputs_indices == 0:  # a single Output (for ALL: a list of matches)
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

    def spec_of(self, component_id: Any) -> StoreSpec | None:
        """`Stash.spec_of` (also a store only another process rendered), its errors naming
        this callback."""
        with self.errors(stringify_id(component_id)):
            return self.stash.spec_of(component_id)


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
        if (
            isinstance(exc, (OSError, ConnectionError))
            or "sqlite3" in type(exc).__module__
            or "redis" in type(exc).__module__
        ):
            raise BackendError(
                f"{self.where}: the dash-stash backend failed ({type(exc).__name__}: {exc}); "
                "the stored value is unchanged. Check that the backend is up and reachable."
            ) from exc
        return False


class StashSocket:
    """Dash's websocket for one callback run, as the callback sees it (`ctx.websocket`).

    Over a websocket, `dash.set_props` does not wait for the callback's end: each call goes
    to the browser at once (`set_prop_sync`). On a store, this commits the value first, as
    `write_side_updates` does over HTTP, and streams its token; each later write of the run
    merges from the one before. Everything else is Dash's own."""

    def __init__(self, socket: Any, call: CallbackCall) -> None:
        self._socket = socket
        self._call = call

    def __getattr__(self, name: str) -> Any:
        return getattr(self._socket, name)

    def set_prop_sync(self, component_id: str, prop_name: str, value: Any) -> None:
        props = {component_id: {prop_name: value}}
        self._call.write_side_updates(props)
        self._socket.set_prop_sync(component_id, prop_name, props[component_id][prop_name])

    async def set_prop(self, component_id: str, prop_name: str, value: Any) -> None:
        self.set_prop_sync(component_id, prop_name, value)

    async def get_prop(self, component_id: str, prop_name: str, timeout: float = 30.0) -> Any:
        """A prop from the browser; a store's `data` is its value, read as an Input's is."""
        sent = await self._socket.get_prop(component_id, prop_name, timeout)
        spec = self._call.stash.stores.get(component_id)
        if prop_name != "data" or spec is None:
            return sent
        raw_id = spec.raw_id if spec.raw_id is not None else component_id
        return self._call.read({"id": raw_id, "property": "data", "value": sent})


def _wrap(stash: Stash, callback_id: str, cb: dict) -> None:
    """Install the two wrappers described at the top of this module."""
    dispatch = cb["callback"]
    cell = _compat.func_cell(dispatch)
    func = cell.cell_contents
    name = getattr(func, "__name__", callback_id)
    user_states = cb["_dash_stash"]["user_states"]

    def before(args: tuple, kwargs: dict) -> tuple[tuple, contextvars.Token]:
        """Swap tokens for values and take our hidden States out of Dash's sight; the call
        is this context's until `outer` resets it."""
        g = kwargs.get("callback_context")
        if g is None:  # without it the callback would get tokens: refuse, never guess
            raise _compat._unsupported("callback_context in Dash's callback dispatch")
        _check_declared(stash, name, cb, g.inputs_list + g.states_list)
        args, hidden = strip_hidden(g, args, user_states)
        writes = {stringify_id(out["id"]) for out in _flat(g.outputs_list)}
        call = CallbackCall(stash, name, cb.get("outputs_indices"), writes)
        args = tuple(
            _read_dep(call, dep, arg)
            for dep, arg in zip(g.inputs_list + g.states_list, args, strict=True)
        )
        for dep in _flat(hidden):  # where the writes go: the tokens of written stores
            if (
                stash.stores.get(dep["id"])
                or dep.get("value")
                and stash.spec_from_token(dep["id"], dep["value"])
            ):
                call.locate(dep)
        socket = _compat.callback_websocket(g)
        if socket is not None:  # a websocket callback: its set_props stream as they are made
            _compat.set_callback_websocket(g, StashSocket(socket, call))
        return args, _CALL.set(call)

    def commit(result: Any) -> Any:
        call = _CALL.get()
        if call is None:
            return result
        from dash import callback_context

        result = call.write_outputs(result, callback_context.outputs_list)
        side = _compat.side_updates()
        if side:
            call.write_side_updates(side)
        return result

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def inner_async(*a: Any, **kw: Any) -> Any:
            return commit(await func(*a, **kw))

        @functools.wraps(dispatch)
        async def outer_async(*args: Any, **kwargs: Any) -> Any:
            args, reset = before(args, kwargs)
            try:
                return await dispatch(*args, **kwargs)
            finally:
                _CALL.reset(reset)

        cell.cell_contents, cb["callback"] = inner_async, outer_async
    else:

        @functools.wraps(func)
        def inner(*a: Any, **kw: Any) -> Any:
            return commit(func(*a, **kw))

        @functools.wraps(dispatch)
        def outer(*args: Any, **kwargs: Any) -> Any:
            args, reset = before(args, kwargs)
            try:
                return dispatch(*args, **kwargs)
            finally:
                _CALL.reset(reset)

        cell.cell_contents, cb["callback"] = inner, outer


def strip_hidden(g: Any, args: tuple, user_states: int) -> tuple[tuple, list]:
    """Take the hidden States we added (see `_add_hidden_states`) out of a request's
    context `g` and its flat `args`, out of Dash's sight; return the args and those States."""
    hidden = g.states_list[user_states:]
    if hidden:
        g.states_list = g.states_list[:user_states]
        g.state_values = inputs_to_dict(g.states_list)
        args = args[: len(args) - len(hidden)]
    return args, hidden


def wrap_clientside(callback_list: list[dict]) -> None:
    """Point each clientside callback that uses a `data` prop at the wrapper of
    `dash_stash.js`, which reads and writes stores through the server (see browser.py)."""
    for spec in callback_list:
        function = spec.get("clientside_function")
        if not function or function.get("namespace") == NAMESPACE:
            continue
        deps = spec.get("inputs", []) + spec.get("state", [])
        outputs = spec["output"].strip(".").split("...")
        if not any(d.get("property") == "data" for d in deps) and not any(
            o.rpartition(".")[2].split("@")[0] in ("data", "clear_data") for o in outputs
        ):
            continue
        meta = {"ns": function["namespace"], "fn": function["function_name"], "cb": spec["output"]}
        spec["clientside_function"] = {"namespace": NAMESPACE, "function_name": json.dumps(meta)}


def refuse_unread_patch(callback: str, store_id: str, props: dict) -> None:
    """A `set_props` Patch on a store the callback does not read has no tab to patch."""
    if is_patch(_patch_json(props.get("data"))):
        raise StashError(
            f"{callback} patches store {store_id!r} with set_props, but does not read it, "
            "so dash-stash cannot tell which tab's value to patch; add "
            f"State({store_id!r}, 'data') to the callback"
        )


def _patch_json(value: Any) -> Any:
    """A `dash.Patch` in the JSON form the engine knows; any other value as it is."""
    return value.to_plotly_json() if isinstance(value, Patch) else value


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _flat(entries: Any) -> list[dict]:
    """Every entry of a request's outputs (or states), wildcard groups flattened."""
    flat: list[dict] = []
    for out in _as_list(entries or []):
        flat += [o for o in _as_list(out) if isinstance(o, dict) and "id" in o]
    return flat


def _check_declared(stash: Stash, name: str, cb: dict, entries: list) -> None:
    """Refuse (400) a request whose inputs or states name a store the callback does not
    declare at that place: Dash checks a request's outputs, not which components its inputs
    name, so a crafted request could otherwise make any callback read (and echo) any store."""
    declared = cb["inputs"] + cb["state"]
    if len(entries) > len(declared) and _learn_hidden(stash, entries[len(declared) :]):
        declared = cb["inputs"] + cb["state"]
    # Our hidden States may be missing: the page downloaded the callbacks before we added them.
    least = len(cb["inputs"]) + cb["_dash_stash"]["user_states"]
    if not least <= len(entries) <= len(declared):
        _refuse(name, f"it sends {len(entries)} inputs and states; the callback has {least}")
    for dep, entry in zip(declared, entries, strict=False):
        for item in entry if isinstance(entry, list) else [entry]:
            if not isinstance(item, dict):
                continue
            value = item.get("value")
            is_store = (isinstance(value, str) and value.startswith(PREFIX)) or (
                stash.stores.get(item.get("id")) is not None
            )
            if is_store and not _declares(dep, item):
                _refuse(
                    name,
                    f"it sends {stringify_id(item.get('id'))}.{item.get('property')} where the "
                    f"callback declares {dep['id']}.{dep['property']}",
                )


def _learn_hidden(stash: Stash, extra: list) -> bool:
    """A page whose callbacks another process wired sends hidden States (the tokens of
    stores a callback writes without reading) for stores this process has not rendered (a
    layout function's, on another worker): learn them from their tokens (signed for this
    session, so a request cannot name any other) and wire them here too. True if one was."""
    learned = False
    for item in extra:
        if not (isinstance(item, dict) and item.get("property") == "data" and item.get("value")):
            continue
        if stash.stores.get(item.get("id")) is None:
            learned = stash.spec_from_token(item.get("id"), item["value"]) is not None or learned
    if learned:
        stash.wiring.update()  # the new ids' hidden States, as the page's are
    return learned


def _declares(dep: dict, item: dict) -> bool:
    """Is `item` (a request entry) the component and property `dep` (a declared one) names,
    wildcards (MATCH, ALL, ALLSMALLER) included?"""
    if item.get("property") != dep["property"]:
        return False
    component_id = item.get("id")
    if not dep["id"].startswith("{"):
        return isinstance(component_id, str) and component_id == dep["id"]
    pattern = json.loads(dep["id"])
    return (
        isinstance(component_id, dict)
        and component_id.keys() == pattern.keys()
        and all(isinstance(p, list) or component_id[k] == p for k, p in pattern.items())
    )


def _refuse(name: str, why: str) -> None:
    log.warning("dash-stash: refused a request to callback %r: %s", name, why)
    web.refuse(f"dash-stash: this request does not match callback {name!r}")


def _read_dep(call: CallbackCall, dep: Any, arg: Any) -> Any:
    if isinstance(dep, list):  # ALL / ALLSMALLER: a list of entries
        return [call.read(d) for d in dep]
    if isinstance(dep, dict) and "id" in dep:
        return call.read(dep)
    return arg
