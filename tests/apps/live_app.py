"""An app for shared and live stores (tests/test_live_*.py, benchmarks/live.py).

- `board`: one `storage_type="app"` list every session shares; a click appends
  `<who>-<n>` to it with a Patch (so concurrent writers never lose an item), and `#items`
  shows it, one `li` per item.
- `team`: one value per team (`group=`): the team is the one `/login?team=...` put in the
  Flask session (signed with the app's secret, as a login would be); a visitor who did not log
  in is in no team.
- `room`: one value per room, where the room is server-side membership (`MEMBERS`, set by
  `/join?user=...&room=...`, as an admin page would), so it can change under an open page.
- `mine`: a `session` store, to check that only its own page hears of its changes.

Under gunicorn: `LIVE_APP_BACKEND` (else `DASH_STASH_BACKEND`) makes the module-level `server`;
`LIVE_APP_HEARTBEAT` sets the live route's heartbeat (so the stream of a page a test closed
frees its thread soon, and the server stops at once rather than after the next ping).
"""

from __future__ import annotations

import json
import os

import flask
from dash import Dash, Input, Output, Patch, State, dcc, html

import dash_stash


def team_of(request: flask.Request) -> str | None:
    """The logged-in user's team (None: not logged in)."""
    return flask.session.get("team")


MEMBERS: dict[str, str] = {}  # user -> room, kept on the server (this process)


def room_of(request: flask.Request) -> str | None:
    """The room the logged-in user is a member of now (None: none)."""
    return MEMBERS.get(flask.session.get("user", ""))


def make_app(backend: str, name: str = "live_app") -> Dash:
    app = Dash(name)
    app.server.secret_key = "live-app-test-secret"
    dash_stash.init(app, backend, secret="live-app-token-secret")
    app._dash_stash.live.heartbeat = float(os.environ.get("LIVE_APP_HEARTBEAT", "15"))

    @app.server.route("/login")
    def login() -> str:
        flask.session["team"] = flask.request.args["team"]
        return "ok"

    @app.server.route("/join")
    def join() -> str:
        user, room = flask.request.args["user"], flask.request.args.get("room")
        flask.session["user"] = user
        if room:
            MEMBERS[user] = room
        return "ok"

    app.layout = html.Div(
        [
            dash_stash.Store(id="board", storage_type="app", data=[]),
            dash_stash.Store(id="team", storage_type="app", group=team_of, data={"notes": []}),
            dash_stash.Store(id="room", storage_type="app", group=room_of, data=0),
            dash_stash.Store(id="mine", storage_type="session", data=0),
            dcc.Input(id="who", value="x"),
            html.Button("add", id="add"),
            html.Button("team", id="team-add"),
            html.Button("mine", id="mine-add"),
            html.Button("room", id="room-add"),
            html.Ul(id="items"),
            html.Div(id="team-out"),
            html.Div(id="mine-out"),
        ]
    )

    @app.callback(
        Output("board", "data"),
        Input("add", "n_clicks"),
        State("who", "value"),
        prevent_initial_call=True,
    )
    def add(n, who):
        board = Patch()
        board.append(f"{who}-{n}")
        return board

    @app.callback(Output("items", "children"), Input("board", "data"))
    def show(board):
        return [html.Li(item) for item in board or []]

    @app.callback(
        Output("team", "data"),
        Input("team-add", "n_clicks"),
        State("who", "value"),
        State("team", "data"),
        prevent_initial_call=True,
    )
    def add_team_note(n, who, team):
        return {"notes": [*team["notes"], f"{who}-{n}"]}

    @app.callback(Output("team-out", "children"), Input("team", "data"))
    def show_team(team):
        return json.dumps(team)

    @app.callback(
        Output("room", "data"),
        Input("room-add", "n_clicks"),
        State("room", "data"),
        prevent_initial_call=True,
    )
    def add_room(n, room):
        return room + 1

    @app.callback(
        Output("mine", "data"),
        Input("mine-add", "n_clicks"),
        State("mine", "data"),
        prevent_initial_call=True,
    )
    def add_mine(n, mine):
        return mine + 1

    @app.callback(Output("mine-out", "children"), Input("mine", "data"))
    def show_mine(mine):
        return str(mine)

    return app


_backend = os.environ.get("LIVE_APP_BACKEND") or os.environ.get("DASH_STASH_BACKEND")
server = make_app(_backend).server if _backend else None
