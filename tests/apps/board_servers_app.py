"""A shared (`app`) board on any Dash server: each visitor adds notes, every open page
follows. Environment: DASH_SERVER (flask, fastapi, quart), DASH_STASH_BACKEND."""

from __future__ import annotations

import dash
from dash import Input, Output, Patch, State, dcc, html

import dash_stash
from tests.support.servers import make_dash


def make_app(backend: str | None = None, server: str | None = None) -> dash.Dash:
    app = make_dash(__name__, server)
    dash_stash.init(app, backend, secret="board-servers-test-secret")
    app.layout = html.Div(
        [
            dcc.Input(id="note"),
            html.Button("add", id="add"),
            dash_stash.Store(id="board", data=[], storage_type="app"),
            html.Pre(id="wall"),
        ]
    )

    @app.callback(
        Output("board", "data"),
        Input("add", "n_clicks"),
        State("note", "value"),
        prevent_initial_call=True,
    )
    def add(_, note):
        patch = Patch()
        patch.append(note)
        return patch

    @app.callback(Output("wall", "children"), Input("board", "data"))
    def show(notes):
        return "\n".join(notes or []) or "(empty)"

    return app


def create_server():
    """For gunicorn, uvicorn (`--factory`) and hypercorn: the app's server."""
    return make_app().server
