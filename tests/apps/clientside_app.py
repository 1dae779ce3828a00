"""Clientside callbacks (inline and ClientsideFunction, app.clientside_callback and
dash.clientside_callback) and dash_clientside.set_props on a store, and the seed app's two
callbacks as clientside callbacks. `use_dcc=True` runs the same app on `dcc.Store`."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import dash
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

import dash_stash
from tests.support.servers import make_dash

ASSETS = str(Path(__file__).parent / "clientside_assets")


def make_app(backend: str, use_dcc: bool = False, name: str = __name__) -> Dash:
    app = make_dash(name, assets_folder=ASSETS)
    if not use_dcc:
        dash_stash.init(app, backend)
    store_cls = dcc.Store if use_dcc else dash_stash.Store
    app.layout = html.Div(
        [
            store_cls(id="s", data={"n": 0, "when": date(2024, 1, 1), "keys": {2: "b", 1: "a"}}),
            store_cls(id="user_data", data={}),
            html.Button("inc", id="inc"),
            html.Button("clear", id="clear"),
            html.Button("patch", id="patch"),
            dcc.Input(id="first_name"),
            dcc.Input(id="last_name"),
            html.Button("load data", id="load_data"),
            html.Pre(id="cs-show"),
            html.Pre(id="py-show"),
            html.Pre(id="names"),
        ]
    )
    app.clientside_callback(  # inline, on the app
        """function (clicks, data) {
            if (!clicks) { throw window.dash_clientside.PreventUpdate; }
            return Object.assign({}, data, {n: data.n + 1});
        }""",
        Output("s", "data", allow_duplicate=True),
        Input("inc", "n_clicks"),
        State("s", "data"),
        prevent_initial_call=True,
    )
    dash.clientside_callback(  # a ClientsideFunction, registered globally
        ClientsideFunction("shop", "show"), Output("cs-show", "children"), Input("s", "data")
    )
    app.clientside_callback(
        "function (clicks) { return clicks ? true : window.dash_clientside.no_update; }",
        Output("s", "clear_data"),
        Input("clear", "n_clicks"),
        prevent_initial_call=True,
    )

    app.clientside_callback(  # dash_clientside.Patch: Dash 3.3+
        """function (clicks) {
            if (!clicks) { throw window.dash_clientside.PreventUpdate; }
            return new window.dash_clientside.Patch().merge([], {patched: clicks}).build();
        }""",
        Output("s", "data", allow_duplicate=True),
        Input("patch", "n_clicks"),
        prevent_initial_call=True,
    )

    @app.callback(Output("py-show", "children"), Input("s", "data"))
    def py_show(data):
        return repr(data)

    # The seed app's two writers, clientside: both fire at once on "load data".
    app.clientside_callback(
        ClientsideFunction("shop", "first"),
        Output("user_data", "data", allow_duplicate=True),
        Input("first_name", "value"),
        State("user_data", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        """async function (value, user) {
            if (!value) { throw window.dash_clientside.PreventUpdate; }
            await new Promise(r => setTimeout(r, 30));
            return Object.assign({}, user, {last_name: value});
        }""",
        Output("user_data", "data", allow_duplicate=True),
        Input("last_name", "value"),
        State("user_data", "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("first_name", "value"),
        Output("last_name", "value"),
        Input("load_data", "n_clicks"),
        prevent_initial_call=True,
    )
    def load_data(n_clicks):
        if not n_clicks:
            raise PreventUpdate
        return f"Mickael{n_clicks}", f"Jackson{n_clicks}"

    @app.callback(Output("names", "children"), Input("user_data", "data"))
    def names(user):
        return f"{(user or {}).get('first_name')} {(user or {}).get('last_name')}"

    return app


def create_server():
    """For uvicorn (`--factory`) and hypercorn (DASH_SERVER, DASH_STASH_BACKEND)."""
    return make_app(os.environ["DASH_STASH_BACKEND"]).server
