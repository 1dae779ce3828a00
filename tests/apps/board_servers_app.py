"""A shared (`app`) board on any Dash server: each visitor adds notes, every open page
follows. Environment: DASH_SERVER (flask, fastapi, quart), DASH_STASH_BACKEND.

- `mine`: a `session` store no callback writes (pages that watch it are idle);
- `room`: one value per room (`group=`), the room being the `room` cookie (a stand-in for
  a login: the tests check that a page in another room never hears of it);
- BOARD_LONGEST_HOLD: how long a held stream may wait on uvicorn (default 5 s);
- `GET /watching`: the live hub's `[open watches, keys watched]`, what open pages hold on
  this server (the tests check a closed page leaves nothing).
"""

from __future__ import annotations

import os

import dash
from dash import Input, Output, Patch, State, dcc, html

import dash_stash
from tests.support.servers import make_dash


def room_of(request) -> str | None:
    """The request's room (FastAPI's and Quart's requests both have `cookies`)."""
    return request.cookies.get("room") or None


def make_app(backend: str | None = None, server: str | None = None) -> dash.Dash:
    app = make_dash(__name__, server)
    dash_stash.init(app, backend, secret="board-servers-test-secret")
    _watching_route(app)
    if os.environ.get("BOARD_LONGEST_HOLD"):  # tests that hold streams longer than 5 s
        app._dash_stash.web.longest_hold = float(os.environ["BOARD_LONGEST_HOLD"])
    app.layout = html.Div(
        [
            dcc.Input(id="note"),
            html.Button("add", id="add"),
            dash_stash.Store(id="board", data=[], storage_type="app"),
            html.Pre(id="wall"),
            html.Ul(id="items"),  # the notes again, one `li` each (benchmarks/live.py)
            dash_stash.Store(id="mine", data=0, storage_type="session"),  # no one writes it
            dash_stash.Store(id="room", data=0, storage_type="app", group=room_of),
            html.Button("bump", id="bump"),
        ]
    )

    @app.callback(
        Output("room", "data"),
        Input("bump", "n_clicks"),
        State("room", "data"),
        prevent_initial_call=True,
    )
    def bump(_, count):
        return count + 1

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

    @app.callback(Output("wall", "children"), Output("items", "children"), Input("board", "data"))
    def show(notes):
        notes = notes or []
        return "\n".join(notes) or "(empty)", [html.Li(note) for note in notes]

    return app


def _watching_route(app: dash.Dash) -> None:
    def watching() -> dict:
        return {"watching": list(app._dash_stash.live.hub.watching())}

    if hasattr(app.server, "add_api_route"):  # FastAPI
        app.server.add_api_route("/watching", watching, methods=["GET"])
    else:  # Flask, Quart
        app.server.add_url_rule("/watching", "watching", watching)


def create_server():
    """For gunicorn, uvicorn (`--factory`) and hypercorn: the app's server."""
    return make_app().server
