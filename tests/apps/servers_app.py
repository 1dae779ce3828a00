"""One app for the tests that run on every Dash server (Flask, FastAPI, Quart).

The seed article's two writers (one sync callback, one async), a callback that streams
`set_props` on a store (over the websocket on FastAPI and Quart: `websocket=True`), a typed
store, and an `inspector=` authorizer that reads the server's own request object.
Environment: DASH_SERVER (flask, fastapi, quart), DASH_WS=1 (every callback over the
websocket: `Dash(websocket_callbacks=True)`), DASH_STASH_BACKEND, SEED_DELAY, SECURE_COOKIE=1
(`init(secure_cookie=True)`).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import date, timedelta

import dash
from dash import Input, Output, State, ctx, dcc, html, set_props
from dash.exceptions import PreventUpdate

import dash_stash
from tests.support.servers import make_dash, server_kind

DELAY = float(os.environ.get("SEED_DELAY", "0.05"))
ADMIN = "let-me-in-4e1b"  # the X-Admin header value the inspector authorizer wants


def allow_admin(request) -> bool:
    """The `inspector=` authorizer: gets Flask's, Starlette's or Quart's request."""
    return request.headers.get("X-Admin") == ADMIN


def make_app(
    backend: str | None = None,
    server: str | None = None,
    websocket: bool = os.environ.get("DASH_WS") == "1",
) -> dash.Dash:
    server = server or server_kind()
    asgi = server != "flask"
    app = make_dash(__name__, server, **({"websocket_callbacks": websocket} if asgi else {}))
    secure = os.environ.get("SECURE_COOKIE") == "1"  # init(secure_cookie=True)
    dash_stash.init(app, backend, inspector=allow_admin, secure_cookie=secure)
    app.layout = html.Div(
        [
            dcc.Input(id="first_name"),
            dcc.Input(id="last_name"),
            html.Button("load data", id="load_data"),
            dash_stash.Store(id="user_data", data={}),
            html.Pre(id="show"),
            html.Pre(id="pids"),
            html.Button("run", id="run"),
            dash_stash.Store(id="progress", data={"steps": []}, storage_type="session"),
            dcc.Input(id="gate"),
            html.Pre(id="run-done"),
            html.Pre(id="progress-show"),
            dcc.Input(id="tally-key"),
            dash_stash.Store(id="tally", data={}, storage_type="local"),
            html.Pre(id="tally-show"),
            html.Pre(id="tally-pid"),
            html.Button("grow", id="grow"),
            html.Button("break", id="break"),
            dash_stash.Store(
                id="typed", data={"day": date(2024, 1, 1), "seen": (1, 2)}, typed=True
            ),
            html.Pre(id="typed-show"),
        ]
    )

    @app.callback(
        Output("user_data", "data", allow_duplicate=True),
        Input("first_name", "value"),
        State("user_data", "data"),
        prevent_initial_call=True,
    )
    def update_first_name(first_name, user_data):  # sync
        if not first_name:
            raise PreventUpdate
        time.sleep(DELAY)
        user_data["first_name"] = first_name
        return user_data

    @app.callback(
        Output("user_data", "data", allow_duplicate=True),
        Input("last_name", "value"),
        State("user_data", "data"),
        prevent_initial_call=True,
    )
    async def update_last_name(last_name, user_data):  # async
        if not last_name:
            raise PreventUpdate
        await asyncio.sleep(DELAY)
        user_data["last_name"] = last_name
        return user_data

    @app.callback(
        Output("first_name", "value"),
        Output("last_name", "value"),
        Input("load_data", "n_clicks"),
        prevent_initial_call=True,
    )
    def load_data(n_clicks):
        return f"Mickael{n_clicks}", f"Jackson{n_clicks}"

    @app.callback(
        Output("show", "children"),
        Output("pids", "children"),
        Input("user_data", "data"),
        State("pids", "children"),
    )
    def show(user_data, pids):
        pids = sorted(set((pids or "").split()) | {str(os.getpid())})
        return f"{user_data.get('first_name')} {user_data.get('last_name')}", " ".join(pids)

    run_options = {"websocket": True} if asgi else {}

    @app.callback(
        Output("run-done", "children"),
        Input("run", "n_clicks"),
        State("progress", "data"),
        prevent_initial_call=True,
        **run_options,
    )
    async def run(n_clicks, progress):
        """Streams a first step to the page at once (over the websocket), waits until the
        page's #gate says go, then reads the store from the page and adds a second step."""
        progress["steps"].append(f"{n_clicks}.0")
        set_props("progress", {"data": progress})
        socket = ctx.websocket
        if socket is not None:
            for _ in range(300):
                if await socket.get_prop("gate", "value") == f"go{n_clicks}":
                    break
                await asyncio.sleep(0.1)
            progress = await socket.get_prop("progress", "data")  # the value, not its token
        progress["steps"].append(f"{n_clicks}.1")
        set_props("progress", {"data": progress})
        return f"done {n_clicks}"

    @app.callback(Output("progress-show", "children"), Input("progress", "data"))
    def show_progress(progress):
        return " ".join(progress["steps"]) or "-"

    @app.callback(
        Output("typed", "data"),
        Input("grow", "n_clicks"),
        State("typed", "data"),
        prevent_initial_call=True,
    )
    def grow(n_clicks, typed):  # a date makes the value typed: its tuple stays a tuple
        return {"day": typed["day"] + timedelta(days=1), "seen": (*typed["seen"], n_clicks + 2)}

    @app.callback(
        Output("typed", "data", allow_duplicate=True),
        Input("break", "n_clicks"),
        State("typed", "data"),
        prevent_initial_call=True,
    )
    def break_it(n_clicks, typed):  # not storable: the callback fails, the value stays
        return {**typed, "oops": object()}

    @app.callback(Output("typed-show", "children"), Input("typed", "data"))
    def show_typed(typed):
        day, seen = typed["day"], typed["seen"]
        return f"{type(day).__name__} {day.isoformat()} {type(seen).__name__} {list(seen)}"

    @app.callback(
        Output("tally", "data"),
        Output("tally-pid", "children"),
        Input("tally-key", "value"),
        State("tally", "data"),
        prevent_initial_call=True,
    )
    def count(key, tally):  # which worker wrote each key
        return {**tally, key: str(os.getpid())}, str(os.getpid())

    @app.callback(Output("tally-show", "children"), Input("tally", "data"))
    def show_tally(tally):
        return json.dumps(tally)

    return app


def create_server():
    """For gunicorn, uvicorn (`--factory`) and hypercorn: the app's server. PROXY_FIX=1:
    behind a TLS proxy on this machine (hypercorn's ProxyFixMiddleware; uvicorn trusts
    X-Forwarded-Proto from 127.0.0.1 by itself)."""
    server = make_app().server
    if os.environ.get("PROXY_FIX") == "1" and os.environ.get("DASH_SERVER") == "quart":
        from hypercorn.middleware import ProxyFixMiddleware

        return ProxyFixMiddleware(server, mode="legacy", trusted_hops=1)
    return server
