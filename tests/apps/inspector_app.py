"""An app for the inspector tests: stores written by Patch, by full values, with a merge
conflict, a table and a long list."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
from dash import Dash, Input, Output, Patch, State, html

import dash_stash


def make_app(
    backend: str,
    *,
    debug: bool = True,
    inspector: Callable[[Any], Any] | None = None,
    name: str = "inspected",
) -> Dash:
    app = Dash(name)
    dash_stash.init(app, backend, inspector=inspector)
    app.layout = html.Div(
        [
            dash_stash.Store(id="counter", data={"count": 0, "color": "white", "tags": []}),
            dash_stash.Store(id="prefs", data={"theme": "light"}, storage_type="local"),
            dash_stash.Store(
                id="table", data=pd.DataFrame({"city": ["Oslo", "Lima"], "pop": [0.7, 10.0]})
            ),
            dash_stash.Store(id="long", data=list(range(250))),
            html.Button("inc", id="inc"),
            html.Button("tag", id="tag"),
            html.Button("conflict", id="conflict"),
            html.Div(id="out"),
        ]
    )

    @app.callback(Output("counter", "data"), Input("inc", "n_clicks"), prevent_initial_call=True)
    def increment(_: int) -> Patch:
        patch = Patch()
        patch["count"] += 1
        return patch

    @app.callback(
        Output("counter", "data", allow_duplicate=True),
        Input("tag", "n_clicks"),
        State("counter", "data"),
        prevent_initial_call=True,
    )
    def add_tag(n: int, data: dict) -> dict:
        return {**data, "tags": [*data["tags"], f"t{n}"]}

    both_read = threading.Barrier(2)  # each painter writes only once both have read

    def painter(color: str) -> Callable[[int, dict], dict]:
        def paint(_: int, data: dict) -> dict:
            both_read.wait(timeout=30)
            return {**data, "color": color}

        paint.__name__ = f"paint_{color}"
        return paint

    # One click fires both (two props, so Dash sees two callbacks).
    for color, prop in (("red", "n_clicks"), ("blue", "n_clicks_timestamp")):
        app.callback(
            Output("counter", "data", allow_duplicate=True),
            Input("conflict", prop),
            State("counter", "data"),
            prevent_initial_call=True,
        )(painter(color))

    @app.callback(Output("out", "children"), Input("counter", "data"))
    def show(data: dict) -> str:
        return f"count={data['count']} color={data['color']} tags={','.join(data['tags'])}"

    if debug:
        app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)
    return app
