"""Background callbacks that read and write stores, run as users run them: the web server
under gunicorn and the jobs in Dash's DiskcacheManager subprocesses or a Celery worker.

Configured by the environment, so that the web server and the Celery worker (which imports
this module too) build the same app:

- `BG_MANAGER`: "diskcache" (`BG_CACHE_DIR`) or "celery" (`BG_BROKER`: a Redis URL, broker
  and result backend);
- `BG_STORE`: "stash" (default) or "dcc", the same app on `dcc.Store`, for comparison;
- `DASH_STASH_BACKEND`, `DASH_STASH_SECRET`: dash-stash's own; `BG_HEARTBEAT`: the live
  route's heartbeat (a job makes the page hot: it holds a stream, which outlives a closed
  page until the next ping, and gunicorn's graceful stop waits for it).

The page: "run" fills the `data` store row by row while the bar moves (the rows so far go
to the `partial` store as progress; "cancel" stops it); "a" and "b" are two more jobs
appending to `data`, and "bump" a normal callback counting in it, to run at once; "cached"
is a job whose result Dash caches (`cache_by`), keyed on what it reads from `data`; "note" a
job that sets `partial` with `set_props` without declaring it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import dash
from dash import Dash, Input, Output, State, dcc, html, set_props

import dash_stash

ASYNC = tuple(int(n) for n in dash.__version__.split(".")[:2]) >= (3, 1)  # async callbacks
STEPS = 6
STEP = 0.25  # seconds per row: long enough to see the bar move and to cancel
MANAGER = os.environ.get("BG_MANAGER", "diskcache")
USE_DCC = os.environ.get("BG_STORE", "stash") == "dcc"


def _manager() -> dash.DiskcacheManager | dash.CeleryManager:
    cache_by = [lambda: "cache-1"]  # caching on: a result is kept for the same arguments
    if MANAGER == "celery":
        from celery import Celery

        broker = os.environ["BG_BROKER"]
        app = Celery(__name__, broker=broker, backend=broker)
        app.conf.update(worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True)
        return dash.CeleryManager(app, cache_by=cache_by, expire=300)
    import diskcache

    cache = diskcache.Cache(os.environ.get("BG_CACHE_DIR", "./.bg-cache"))
    return dash.DiskcacheManager(cache, cache_by=cache_by, expire=300)


manager = _manager()
celery_app = getattr(manager, "handle", None) if MANAGER == "celery" else None
Store = dcc.Store if USE_DCC else dash_stash.Store


def _show_error(err: Exception) -> None:
    set_props("error", {"children": str(err)})


app = Dash(__name__, background_callback_manager=manager, on_error=_show_error)
if not USE_DCC:
    dash_stash.init(app)
    app._dash_stash.live.heartbeat = float(os.environ.get("BG_HEARTBEAT", "15"))
server = app.server

app.layout = html.Div(
    [
        html.Button("run", id="run"),
        html.Button("cancel", id="cancel"),
        html.Button("a", id="a"),
        html.Button("b", id="b"),
        html.Button("bump", id="bump"),
        html.Button("cached", id="cached"),
        html.Button("note", id="note"),
        *([html.Button("async", id="async")] if ASYNC else []),
        html.Progress(id="bar", value="0", max=str(STEPS)),
        Store(id="data", data={"rows": [], "bumps": 0}),
        Store(id="partial"),
        html.Pre(id="show"),
        html.Pre(id="partial-show"),
        html.Pre(id="cached-out"),
        html.Pre(id="done"),
        html.Pre(id="error"),
    ]
)


@app.callback(
    Output("data", "data", allow_duplicate=True),
    Input("run", "n_clicks"),
    State("data", "data"),
    background=True,
    running=[(Output("run", "disabled"), True, False), (Output("cancel", "disabled"), False, True)],
    progress=[Output("bar", "value"), Output("partial", "data")],
    progress_default=["0", {"rows": []}],
    cancel=[Input("cancel", "n_clicks")],
    prevent_initial_call=True,
)
def fill(set_progress, n_clicks, data):
    rows = list(data["rows"])
    for i in range(STEPS):
        time.sleep(STEP)
        rows.append(f"run{n_clicks}-{i}")
        set_progress((str(i + 1), {"rows": rows[len(data["rows"]) :]}))
    return {**data, "rows": rows}


def _append(label: str):
    def job(n_clicks, data):
        for i in range(3):
            time.sleep(0.2)
            data["rows"].append(f"{label}{n_clicks}-{i}")
            set_props("done", {"children": f"{label} {i}"})
        return data

    return job


for _label in ("a", "b"):
    app.callback(
        Output("data", "data", allow_duplicate=True),
        Input(_label, "n_clicks"),
        State("data", "data"),
        background=True,
        prevent_initial_call=True,
    )(_append(_label))


@app.callback(
    Output("data", "data", allow_duplicate=True),
    Input("bump", "n_clicks"),
    State("data", "data"),
    prevent_initial_call=True,
)
def bump(n_clicks, data):
    return {**data, "bumps": data["bumps"] + 1}


@app.callback(
    Output("cached-out", "children"),
    Input("cached", "n_clicks"),
    State("data", "data"),
    background=True,
    running=[(Output("cached", "disabled"), True, False)],
    interval=400,
    cache_args_to_ignore=[0],  # the click count: the result depends on the store only
    prevent_initial_call=True,
)
def cached(n_clicks, data):
    """Shows the click it was computed for: a result from Dash's cache shows an older one.
    (Slower than the browser's first poll: Dash serves a cached result only if the job it
    starts anyway has not overwritten it by then.)"""
    time.sleep(1.0)
    return f"{len(data['rows'])} rows, {data['bumps']} bumps, computed at click {n_clicks}"


@app.callback(
    Output("done", "children", allow_duplicate=True),
    Input("note", "n_clicks"),
    background=True,
    prevent_initial_call=True,
)
def note(n_clicks):
    """set_props on a store the job does not declare (a fresh instance, as in any callback)."""
    set_props("partial", {"data": {"rows": [f"note {n_clicks}"]}})
    return f"noted {n_clicks}"


if ASYNC:

    @app.callback(
        Output("data", "data", allow_duplicate=True),
        Input("async", "n_clicks"),
        State("data", "data"),
        background=True,
        prevent_initial_call=True,
    )
    async def add_async(n_clicks, data):
        """An async job (Dash 3.1+): read and written as a sync one is."""
        await asyncio.sleep(0.1)
        return {**data, "rows": [*data["rows"], f"async{n_clicks}"]}


@app.callback(Output("show", "children"), Input("data", "data"))
def show(data):
    return json.dumps(data, sort_keys=True)


@app.callback(Output("partial-show", "children"), Input("partial", "data"))
def show_partial(partial):
    return json.dumps(partial, sort_keys=True)
