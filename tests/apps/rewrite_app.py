"""A to-do list in a `local` store, with a callback that rewrites the unchanged list whenever
the store changes or loads (the Dash docs' `modified_timestamp` pattern): `dcc.Store` leaves
browser storage alone when given the data it holds, so two tabs sit idle.
`use_dcc=True` runs the same app on `dcc.Store`, for comparison."""

from __future__ import annotations

from dash import Dash, Input, Output, Patch, State, dcc, html
from dash.exceptions import PreventUpdate

import dash_stash


def make_app(backend: str, use_dcc: bool = False) -> Dash:
    app = Dash(__name__)
    if not use_dcc:
        dash_stash.init(app, backend)
    store_cls = dcc.Store if use_dcc else dash_stash.Store
    app.layout = html.Div(
        [
            store_cls(id="todos", data=[{"text": "milk", "done": False}], storage_type="local"),
            dcc.Input(id="new"),
            html.Button("add", id="add"),
            html.Ul(id="list"),
        ]
    )

    @app.callback(
        Output("todos", "data", allow_duplicate=True),
        Input("add", "n_clicks"),
        State("new", "value"),
        prevent_initial_call=True,
    )
    def add(_clicks, text):
        if not text:
            raise PreventUpdate
        todos = Patch()
        todos.append({"text": text, "done": False})
        return todos

    @app.callback(
        Output("todos", "data"),
        Output("list", "children"),
        Input("todos", "modified_timestamp"),
        State("todos", "data"),
    )
    def render(_ts, todos):
        todos = sorted(todos or [], key=lambda t: t["done"])  # done last: here, no change
        return todos, [html.Li(t["text"]) for t in todos]

    return app
