"""An app for the attacks on dash-stash's own routes (tests/test_security_routes_http.py): two
memory stores the browser writes through `_dash-stash/write` (as `dash_clientside.set_props`
does), a clientside reader, and an undo button that restores version 1 of `s`.

Under gunicorn: `ROUTES_APP_BACKEND` (and optionally `ROUTES_APP_MAX_SESSION_BYTES`) make the
module-level `server`."""

from __future__ import annotations

import os

from dash import Dash, Input, Output, State, html

import dash_stash


def make_app(backend: str, name: str, **options) -> Dash:
    """Two memory stores, written from the browser (`dash_clientside.set_props` goes through
    `_dash-stash/write`), and an undo button that restores version 1 of `s`."""
    app = Dash(name)
    dash_stash.init(app, backend, **options)
    app.layout = html.Div(
        [
            dash_stash.Store(id="s", data=None),
            dash_stash.Store(id="t", data=None),
            html.Button(id="undo"),
            html.Div(id="out"),
        ]
    )

    @app.callback(
        Output("s", "data"),
        Input("undo", "n_clicks"),
        State("s", "data"),
        prevent_initial_call=True,
    )
    def undo(n, s):
        return dash_stash.restore("s", 1)

    app.clientside_callback(  # reads `s` through `_dash-stash/read`
        "function (s) { return JSON.stringify(s); }", Output("out", "children"), Input("s", "data")
    )

    return app


if os.environ.get("ROUTES_APP_BACKEND"):
    server = make_app(
        os.environ["ROUTES_APP_BACKEND"],
        "routes_app",
        max_session_bytes=int(os.environ.get("ROUTES_APP_MAX_SESSION_BYTES", 256 * 2**20)),
    ).server
