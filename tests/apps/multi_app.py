"""Two Dash apps on one FastAPI server under two URL prefixes (`/one/`, `/two/`), one
backend, the same store ids in both (a `memory` store `box`, a group store `team` whose
group is the `X-Team` header), for the attacks of one app's tokens and cookies on the other
(tests/test_multi_app_http.py). Environment: DASH_STASH_BACKEND."""

from __future__ import annotations

import os
from typing import Any

from dash import Dash, Input, Output, State, html

import dash_stash

NAMES = ("one", "two")


def team(request: Any) -> str | None:
    """The group of a request: its `X-Team` header (as a login proxy would set it)."""
    return request.headers.get("X-Team") or None


def make_app(server: Any, name: str, backend: str) -> Dash:
    app = Dash(f"multi_{name}", server=server, backend="fastapi", url_base_pathname=f"/{name}/")
    dash_stash.init(app, backend)
    app.layout = html.Div(
        [
            dash_stash.Store(id="box", data={"app": name, "n": 0}),
            dash_stash.Store(id="team", data={"app": name}, storage_type="app", group=team),
            html.Button(id="inc"),
            html.Div(id="out"),
            html.Div(id="raw"),
        ]
    )
    app.clientside_callback(  # reads `box` through `_dash-stash/read`
        "function (box) { return JSON.stringify(box); }",
        Output("raw", "children"),
        Input("box", "data"),
    )

    @app.callback(
        Output("box", "data"),
        Input("inc", "n_clicks"),
        State("box", "data"),
        prevent_initial_call=True,
    )
    def inc(_, box):
        box["n"] += 1
        return box

    @app.callback(Output("out", "children"), Input("box", "data"), Input("team", "data"))
    def out(box, shared):
        return f"{box['app']}:{box['n']}:{shared}"

    return app


def create_server() -> Any:
    """The one FastAPI server both apps are on."""
    import fastapi

    server = fastapi.FastAPI()
    for name in NAMES:
        make_app(server, name, os.environ["DASH_STASH_BACKEND"])
    return server
