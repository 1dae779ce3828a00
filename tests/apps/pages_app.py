"""A `use_pages` app with stores in a static page layout and in a layout function."""

from __future__ import annotations

import os

import dash
from dash import Dash, Input, Output, Patch, State, dcc, html

import dash_stash
from tests.support.servers import make_dash


def make_app(backend: str) -> Dash:
    app = make_dash("pages_app", use_pages=True, pages_folder="")
    dash_stash.init(app, backend)

    dash.register_page(
        "a",
        path="/",
        layout=html.Div(
            [
                dash_stash.Store(id="page-a", data={"n": 0}, storage_type="session"),
                html.Button("a+", id="a-inc"),
                html.Div(id="a-show"),
                dcc.Link("to b", href="/b", id="to-b"),
            ]
        ),
    )

    def layout_b(**_):
        return html.Div(
            [
                dash_stash.Store(id="page-b", data={"items": []}, storage_type="local"),
                html.Button("b+", id="b-add"),
                html.Div(id="b-show"),
                dcc.Link("to a", href="/", id="to-a"),
            ]
        )

    dash.register_page("b", path="/b", layout=layout_b)
    app.layout = html.Div([dash.page_container])

    @app.callback(Output("page-a", "data"), Input("a-inc", "n_clicks"), prevent_initial_call=True)
    def a_inc(_):
        p = Patch()
        p["n"] += 1
        return p

    @app.callback(Output("a-show", "children"), Input("page-a", "data"))
    def a_show(data):
        return f"a={data['n']}"

    @app.callback(
        Output("page-b", "data"),
        Input("b-add", "n_clicks"),
        State("page-b", "data"),
        prevent_initial_call=True,
    )
    def b_add(n, data):
        data["items"].append(n)
        return data

    @app.callback(Output("b-show", "children"), Input("page-b", "data"))
    def b_show(data):
        return f"b={data['items']}"

    return app


def create_server():
    """For uvicorn (`--factory`) and hypercorn (DASH_SERVER, DASH_STASH_BACKEND)."""
    return make_app(os.environ["DASH_STASH_BACKEND"]).server
