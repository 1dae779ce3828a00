"""The seed article's app for the tests: `load_data` returns names that carry the click count,
so every click is checked. STORE=dcc runs the original `dcc.Store` version for comparison."""

import os
import time

from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

import dash_stash
from tests.support.servers import make_dash

DELAY = float(os.environ.get("SEED_DELAY", "0.05"))
USE_DCC = os.environ.get("STORE") == "dcc"


def make_app(
    backend: str | None = None,
    use_dcc: bool = USE_DCC,
    name: str = __name__,
    server: str | None = None,
    **init_options,
) -> Dash:
    """The app; `server`: Dash's server ("flask", or "fastapi" / "quart" on Dash 4.2+)."""
    app = make_dash(name, server)
    store_cls = dcc.Store if use_dcc else dash_stash.Store
    if not use_dcc:
        dash_stash.init(app, backend, **init_options)
    app.layout = html.Div(
        [
            dcc.Input(id="first_name"),
            dcc.Input(id="last_name"),
            html.Button("load data", id="load_data"),
            store_cls(id="user_data", data={}),
            html.Pre(id="show"),
            html.Pre(id="pids"),
        ]
    )

    @app.callback(
        Output("user_data", "data", allow_duplicate=True),
        Input("first_name", "value"),
        State("user_data", "data"),
        prevent_initial_call=True,
    )
    def update_first_name(first_name, user_data):
        if first_name:
            time.sleep(DELAY)
            user_data["first_name"] = first_name
            return user_data
        raise PreventUpdate

    @app.callback(
        Output("user_data", "data", allow_duplicate=True),
        Input("last_name", "value"),
        State("user_data", "data"),
        prevent_initial_call=True,
    )
    def update_last_name(last_name, user_data):
        if last_name:
            time.sleep(DELAY)
            user_data["last_name"] = last_name
            return user_data
        raise PreventUpdate

    @app.callback(
        Output("first_name", "value"),
        Output("last_name", "value"),
        Input("load_data", "n_clicks"),
    )
    def load_data(n_clicks):
        if n_clicks:
            return f"Mickael{n_clicks}", f"Jackson{n_clicks}"
        raise PreventUpdate

    @app.callback(
        Output("show", "children"),
        Output("pids", "children"),
        Input("user_data", "data"),
        State("pids", "children"),
    )
    def show(user_data, pids):
        # pids: which worker processes served this page's callbacks (for the gunicorn test)
        pids = sorted(set((pids or "").split()) | {str(os.getpid())})
        names = f"{(user_data or {}).get('first_name')} {(user_data or {}).get('last_name')}"
        return names, " ".join(pids)

    return app


def create_server():
    """For gunicorn: `seed_app:create_server()` (backend from DASH_STASH_BACKEND); uvicorn
    and hypercorn serve it too (DASH_SERVER=fastapi / quart): the server is the app."""
    return make_app().server
