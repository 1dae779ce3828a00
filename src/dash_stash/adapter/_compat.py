"""Every Dash internal dash-stash relies on, and what it does about Dash versions' differences.

The adapter reaches Dash's private names only through this module, and `probe(app)` (the
first thing `init` does) checks every one of them, each touchpoint rather than a sample: a
Dash release that moved one fails at `init`, naming it and the Dash version, never silently
or at a user's first click. The touchpoints, and why each is needed:

- `dash._utils.stringify_id`: the string form Dash gives a (dict) id; stores are keyed by it.
- `dash._utils.inputs_to_dict`: rebuilds `callback_context.states` once the hidden States
  dash-stash added are taken out again.
- `dash._grouping.flatten_grouping` / `map_grouping`: a callback's (nested) return value
  matched to its outputs, as Dash itself does.
- `dash._callback.NoUpdate`: `no_update` outputs are left alone.
- `dash._callback.register_callback` and the entries of `app.callback_map`: each entry's
  `callback` (the dispatch function), `inputs`, `state`, `output`, `outputs_indices`; the
  `func` closure cell of Dash's `add_context` wrapper, where the user's function sits.
- `app._callback_list`: the copy of the callbacks the browser downloads (hidden States are
  added there too; clientside callbacks are pointed at dash_stash.js there).
- `dash._callback_context.context_value` and its `updated_props`: what `set_props` set.
- `app._layout` and `Component._traverse()`: the stores of a static layout.
- `dash.background_callback.managers.BaseBackgroundCallbackManager.managers`, each manager's
  `func_registry` and `build_cache_key`, and the `fn` closure cell of the job function a
  manager makes (Celery: its task's `run`): where a background job calls the user's function.
  Checked when a background callback first runs (background.py), as they need a manager.
- `Dash._setup_server`: plotly/dash#3971 (see below).
- the callback context's `dash_websocket` (Dash 4.2+ websocket callbacks): the socket
  `dash.set_props` streams over, which dash-stash wraps so that a store's value is committed
  before its token streams (callbacks.StashSocket).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import StashError


class _Missing:
    """Stands for a private Dash name this Dash does not have; `probe` reports it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported(self.name)


def _private(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return _Missing(f"{module}.{name}")


stringify_id: Callable[[Any], str] = _private("dash._utils", "stringify_id")
inputs_to_dict: Callable[[Any], dict] = _private("dash._utils", "inputs_to_dict")
flatten_grouping: Callable[..., list] = _private("dash._grouping", "flatten_grouping")
map_grouping: Callable[..., Any] = _private("dash._grouping", "map_grouping")
NoUpdate: Any = _private("dash._callback", "NoUpdate")
_register_callback: Any = _private("dash._callback", "register_callback")
_context_value: Any = _private("dash._callback_context", "context_value")

CALLBACK_KEYS = ("callback", "inputs", "state", "output", "outputs_indices")


def probe(app: Any) -> None:
    """Check every Dash internal dash-stash uses, on this Dash and this app; raise a
    `StashError` naming the first one that moved."""
    for name, value in (
        ("dash._utils.stringify_id", stringify_id),
        ("dash._utils.inputs_to_dict", inputs_to_dict),
        ("dash._grouping.flatten_grouping", flatten_grouping),
        ("dash._grouping.map_grouping", map_grouping),
        ("dash._callback.NoUpdate", NoUpdate),
        ("dash._callback.register_callback", _register_callback),
        ("dash._callback_context.context_value", _context_value),
    ):
        if isinstance(value, _Missing) or not callable(value) and not hasattr(value, "get"):
            raise _unsupported(name)
    from dash import Input, Output, no_update
    from dash.development.base_component import Component

    if not isinstance(no_update, NoUpdate):
        raise _unsupported("dash._callback.NoUpdate (dash.no_update is not one)")
    if not callable(getattr(Component, "_traverse", None)):
        raise _unsupported("Component._traverse")
    for name, kind in (("callback_map", dict), ("_callback_list", list)):
        if not isinstance(getattr(app, name, None), kind):
            raise _unsupported(f"Dash.{name}")
    if not hasattr(app, "_layout"):
        raise _unsupported("Dash._layout")
    callback_map: dict = {}
    _register_callback(
        [], callback_map, False, Output("probe", "children"), Input("probe-in", "value")
    )(lambda value: value)
    entry = next(iter(callback_map.values()), {})
    for key in CALLBACK_KEYS:
        if key not in entry:
            raise _unsupported(f"the callback map entry's {key!r}")
    func_cell(entry["callback"])
    if not hasattr(_context_value, "get"):
        raise _unsupported("dash._callback_context.context_value (a ContextVar)")
    _probe_websocket()
    _probe_background()


def _probe_background() -> None:
    """Background callbacks: the managers' registry, and what each manager made so far has
    (the job functions of callbacks defined later are checked as they are wrapped)."""
    for manager in background_managers():
        for name in ("build_cache_key", "func_registry"):
            if not hasattr(manager, name):
                raise _unsupported(f"{type(manager).__name__}.{name} (background callbacks)")
        for job in list(manager.func_registry.values()):
            job_fn_cell(job)


def callback_list(app: Any) -> list[dict]:
    """The callbacks as the browser downloads them (`/_dash-dependencies`)."""
    return app._callback_list


def static_layouts(app: Any) -> list[Any]:
    """The app's layout as set (a component, a list, or a function) and its validation layout."""
    return [app._layout, app.validation_layout]


def components(layout: Any) -> Iterator[Any]:
    """Every component of a layout: a component and its descendants, or each item of a list.
    Anything else (None, a string, a number) holds no component."""
    from dash.development.base_component import Component

    if isinstance(layout, Component):
        yield layout
        yield from layout._traverse()
    elif isinstance(layout, (list, tuple)):
        for item in layout:
            yield from components(item)


def func_cell(dispatch: Callable) -> Any:
    """The closure cell of Dash's `add_context` that holds the user's function."""
    func = getattr(dispatch, "__wrapped__", None)
    names = getattr(getattr(dispatch, "__code__", None), "co_freevars", ())
    for name, cell in zip(names, dispatch.__closure__ or (), strict=False):
        if name == "func" and cell.cell_contents is func:
            return cell
    raise _unsupported("the user function inside Dash's callback wrapper (add_context)")


def job_fn_cell(job: Callable) -> Any:
    """The closure cell of a background manager's job function that holds the user's
    function (a Celery task's function is its `run`)."""
    job = getattr(job, "run", job)
    names = getattr(getattr(job, "__code__", None), "co_freevars", ())
    for name, cell in zip(names, getattr(job, "__closure__", None) or (), strict=False):
        if name == "fn":
            return cell
    raise _unsupported("the user function inside Dash's background job function (fn)")


def background_managers() -> list[Any]:
    """Every background callback manager made in this process."""
    module = _private("dash.background_callback.managers", "BaseBackgroundCallbackManager")
    if isinstance(module, _Missing):
        raise _unsupported(module.name)
    return list(module.managers)


def callback_context() -> Any:
    """The running callback's context (in a background job: the one Dash gave the job)."""
    return _context_value.get()


def side_updates() -> dict | None:
    """What the running callback set with `dash.set_props`, by component id."""
    return getattr(_context_value.get(), "updated_props", None)


def serialize_first_setup(app: Any) -> Callable[[], None]:
    """Dash's once-only server setup, as a function that finishes it before any request
    goes on; the app's `Web` runs it before any other hook of the server.

    `Dash._setup_server` runs before every request and sets its "done" flag *before* doing the
    work (plotly/dash#3971, fixed by #3980 in a later release): on a threaded server
    (`gunicorn --threads`, waitress, `flask run`) a second request that arrives during the first
    one's setup skips it, so the page stays on "Loading..." or a callback gets a 500 (Quart runs
    Dash's sync hook in threads too). The function runs the setup under a lock; once it has
    finished, Dash's own call returns at once. On a Dash that has the fix this only takes the
    lock once more, so it is used on every version rather than guessed from version numbers.
    """
    if getattr(app, "server", None) is None:
        raise StashError(
            "dash_stash.init(app): the app has no server yet; with Dash(server=False), call "
            "dash_stash.init(app) after app.init_app(server)"
        )
    setup = getattr(app, "_setup_server", None)
    if not callable(setup):
        raise _unsupported("Dash._setup_server")
    lock = threading.Lock()
    done = False

    def setup_once() -> None:
        nonlocal done
        if done:
            return
        with lock:
            if not done:
                setup()
                done = True

    return setup_once


def callback_websocket(context: Any) -> Any | None:
    """The websocket a callback runs over (Dash 4.2+: `ctx.websocket`), from the callback
    context Dash hands its dispatch function; None over HTTP."""
    return context.get(_WEBSOCKET)


def set_callback_websocket(context: Any, socket: Any) -> None:
    """Make `socket` the websocket the callback (`ctx.websocket`, `dash.set_props`) uses."""
    context[_WEBSOCKET] = socket


_WEBSOCKET = "dash_websocket"  # the callback context's key (dash.backends.ws.create_ws_context)


def _probe_websocket() -> None:
    """On a Dash with websocket callbacks, check that a callback's context keeps its socket
    where `callback_websocket` looks."""
    create = _private("dash.backends.ws", "create_ws_context")
    if isinstance(create, _Missing):
        return  # no websocket callbacks on this Dash (before 4.2, or no janus installed)
    marker = object()
    if callback_websocket(create({}, None, marker)) is not marker:
        raise _unsupported(f"the callback context's {_WEBSOCKET!r} (websocket callbacks)")


def dash_version() -> str:
    import dash

    return dash.__version__


def _unsupported(what: str) -> StashError:
    return StashError(
        f"dash-stash cannot find {what} in Dash {dash_version()}: this Dash version is not "
        "supported yet (dash-stash supports Dash 3.0 to 4.x). Please report it with your "
        "Dash version."
    )
