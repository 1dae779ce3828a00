"""The seed app's two callbacks rewritten with `dash.set_props` (one sync, one async on Dash
3.1+, where Dash runs async callbacks), plus
`set_props` on a store the callback does not read, and a clear. `use_dcc=True` runs the same
app on `dcc.Store`, for comparison."""

from __future__ import annotations

import asyncio
import time
from datetime import date

import dash
from dash import Dash, Input, Output, State, dcc, html, set_props
from dash.exceptions import PreventUpdate

import dash_stash

DELAY = 0.05
ASYNC = tuple(int(n) for n in dash.__version__.split(".")[:2]) >= (3, 1)  # async callbacks


def make_app(backend: str, use_dcc: bool = False) -> Dash:
    app = Dash(__name__)
    if not use_dcc:
        dash_stash.init(app, backend)
    store_cls = dcc.Store if use_dcc else dash_stash.Store
    app.layout = html.Div(
        [
            dcc.Input(id="first_name"),
            dcc.Input(id="last_name"),
            html.Button("load data", id="load_data"),
            html.Button("stamp", id="stamp"),
            html.Button("clear", id="clear"),
            store_cls(id="user_data", data={}, storage_type="session"),
            store_cls(id="other", storage_type="session"),
            html.Pre(id="show"),
            html.Pre(id="other-show"),
            html.Pre(id="done"),
        ]
    )

    @app.callback(
        Output("done", "children", allow_duplicate=True),
        Input("first_name", "value"),
        State("user_data", "data"),
        prevent_initial_call=True,
    )
    def update_first_name(first_name, user_data):
        if not first_name:
            raise PreventUpdate
        time.sleep(DELAY)
        user_data["first_name"] = first_name
        set_props("user_data", {"data": user_data})
        return f"first {first_name}"

    def set_last_name(last_name, user_data):
        if not last_name:
            raise PreventUpdate
        user_data["last_name"] = last_name
        set_props("user_data", {"data": user_data})
        return f"last {last_name}"

    async def update_last_name(last_name, user_data):
        await asyncio.sleep(DELAY)
        return set_last_name(last_name, user_data)

    app.callback(
        Output("done", "children", allow_duplicate=True),
        Input("last_name", "value"),
        State("user_data", "data"),
        prevent_initial_call=True,
    )(update_last_name if ASYNC else set_last_name)

    @app.callback(
        Output("first_name", "value"),
        Output("last_name", "value"),
        Input("load_data", "n_clicks"),
        prevent_initial_call=True,
    )
    def load_data(n_clicks):
        return f"Mickael{n_clicks}", f"Jackson{n_clicks}"

    @app.callback(
        Output("done", "children", allow_duplicate=True),
        Input("stamp", "n_clicks"),
        prevent_initial_call=True,
    )
    def stamp(n_clicks):  # does not read "other": a plain replace
        set_props("other", {"data": {"n": n_clicks, "day": date(2024, 5, n_clicks), 0: 1.0}})
        return f"stamp {n_clicks}"

    @app.callback(
        Output("done", "children", allow_duplicate=True),
        Input("clear", "n_clicks"),
        prevent_initial_call=True,
    )
    def clear(_):
        set_props("other", {"clear_data": True})
        return "cleared"

    @app.callback(Output("show", "children"), Input("user_data", "data"))
    def show(user_data):
        return f"{(user_data or {}).get('first_name')} {(user_data or {}).get('last_name')}"

    @app.callback(Output("other-show", "children"), Input("other", "data"))
    def show_other(other):
        return repr(other)

    return app
