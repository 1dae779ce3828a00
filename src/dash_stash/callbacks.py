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
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dash._callback import NoUpdate
from dash._grouping import flatten_grouping, map_grouping
from dash._utils import inputs_to_dict, stringify_id

from . import codec
from .component import StoreRegistry
from .engine import Merge, PatchWrite, Replace
from .engine.patch import is_patch, patch_operations
from .errors import BackendError, StashError

if TYPE_CHECKING:
    from .integration import Located, Stash

_CALL: contextvars.ContextVar[CallbackCall | None] = contextvars.ContextVar(
    "dash_stash_call", default=None
)


class CallbackWiring:
    """Keeps every server callback of one app wrapped, checked at the start of each request."""

    def __init__(self, stash: Stash) -> None:
        self.stash = stash
        self.app = stash.app
        self.stores = stash.stores
        self._state: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self.check_dash_internals()

    def check_dash_internals(self) -> None:
        """Fail at init, not silently at the first click, if Dash's internals moved."""
        from dash import Input, Output
        from dash._callback import register_callback

        callback_map: dict = {}
        register_callback(
            [], callback_map, False, Output("probe", "children"), Input("probe-in", "value")
        )(lambda value: value)
        cb = next(iter(callback_map.values()))
        _func_cell(cb["callback"])
        for name in ("state", "inputs", "output", "outputs_indices"):
            if name not in cb:
                raise StashError(
                    f"dash-stash does not support this Dash version: its callback "
                    f"map has no {name!r}; please report it with your Dash version"
                )

    def update(self) -> None:
        """Wrap callbacks registered since last time, and add hidden States to writers."""
        if (len(self.app.callback_map), self.stores.generation) == self._state:
            return
        with self._lock:
            if self._state is None:  # first request: Dash has set itself up
                self.stash.own_layouts()
            for callback_id, cb in list(self.app.callback_map.items()):
                if "callback" not in cb:  # clientside callbacks have no server part
                    continue
                if cb.get("background"):
                    _refuse_stores_in_background(cb, self.stores)
                    continue
                if "_dash_stash" not in cb:
                    cb["_dash_stash"] = {"user_states": len(cb["state"])}
                    _wrap(self.stash, callback_id, cb)
                self._add_hidden_states(callback_id, cb)
            self._state = (len(self.app.callback_map), self.stores.generation)

    def _add_hidden_states(self, callback_id: str, cb: dict) -> None:
        """Ask the browser for the token of each store the callback writes without reading."""
        outputs = cb["output"] if isinstance(cb["output"], (list, tuple)) else [cb["output"]]
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
                for spec in self.app._callback_list:  # the copy the browser downloads
                    if spec["output"] == callback_id and spec["state"] is not cb["state"]:
                        spec["state"].append(dep)
                read.add((dep["id"], "data"))


@dataclass
class Loaded:
    """A store value a callback read, kept so that its write can merge from it."""

    located: Located
    version: int
    encoded: codec.Encoded | None  # None: read the layout data (never written)


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
        spec = self.stash.stores.get(dep["id"]) or self.stash.spec_from_token(
            dep["id"], dep["value"]
        )
        if spec is None:
            return dep.get("value")  # not a store of this app
        store_id = stringify_id(dep["id"])
        with self.errors(store_id):
            located = self.locate(dep)
            value, record = self.stash.engine.read(
                located.key,
                ttl=spec.ttl,
                initial=lambda: self.stash.seed_value(located.seed),
                label=store_id,
                own=store_id not in self.writes,  # a writer decodes its base again to merge
            )
            if store_id in self.writes:
                self.loaded[store_id] = Loaded(
                    located, record.version if record else 0, record.value if record else None
                )
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
            located = self.locate({"id": out["id"], "value": None})  # hidden or read: known
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
                located.key,
                write,
                ttl=spec.ttl,
                writer=self.name,
                label=store_id,
                initial=lambda: self.stash.seed_value(located.seed),
            )
            return self.stash.token(store_id, spec, located.key.scope, record.version, located.seed)

    def _base(self, loaded: Loaded) -> Any:
        """A fresh copy of what the callback read (it may have changed the one it got)."""
        if loaded.encoded is not None:
            return codec.decode(loaded.encoded)
        return self.stash.seed_value(loaded.located.seed)

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


def _flat(entries: Any) -> list[dict]:
    """Every entry of a request's outputs (or states), wildcard groups flattened."""
    flat: list[dict] = []
    for out in _as_list(entries or []):
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
