"""The vault app of the security tests (a server-only store holding an API key) and the
calls that use its notes."""

from __future__ import annotations

import json

import requests
from dash import Dash, Input, Output, State, dcc, html

import dash_stash
from tests.support.dash_client import DashClient

API_KEY = "sk-live-server-only-91c2"


def vault_app(backend: str, name: str = "vault", **options) -> Dash:
    """A static layout: a server-only secret store nobody's callback shows, a local notes
    store with sizeable layout data, and callbacks that echo what they are given."""
    app = Dash(name)
    dash_stash.init(app, backend, **options)
    app.layout = html.Div(
        [
            dash_stash.Store(id="vault", data={"api_key": API_KEY}),
            dash_stash.Store(
                id="notes", data={"items": [], "intro": "n" * 200_000}, storage_type="local"
            ),
            dash_stash.Store(id="big", data=None),
            dcc.Input(id="name"),
            html.Div(id="greeting"),
            html.Button(id="add"),
            html.Button(id="keep"),
            html.Div(id="notes-out"),
            dcc.Input(id="size"),
        ]
    )

    @app.callback(Output("greeting", "children"), Input("name", "value"))
    def greet(name):
        return f"hello {name}"

    @app.callback(
        Output("notes", "data"),
        Input("add", "n_clicks"),
        State("notes", "data"),
        State("name", "value"),
        prevent_initial_call=True,
    )
    def add(n, notes, text):
        notes["items"].append(text)
        return notes

    @app.callback(
        Output("notes", "data", allow_duplicate=True),
        Input("keep", "n_clicks"),
        State("notes", "data"),
        prevent_initial_call=True,
    )
    def keep(n, notes):  # reads and returns it unchanged
        return notes

    @app.callback(Output("notes-out", "children"), Input("notes", "data"))
    def show_notes(notes):
        return json.dumps({"items": notes["items"]})

    @app.callback(Output("big", "data"), Input("size", "value"), prevent_initial_call=True)
    def make_big(size):
        return "x" * int(size)

    return app


def output(response: requests.Response, component: str, prop: str):
    response.raise_for_status()
    return response.json()["response"][component][prop]


def show_notes(c: DashClient, token: str) -> list:
    r = c.call(c.callback("notes-out.children"), {("notes", "data"): token})
    return json.loads(output(r, "notes-out", "children"))["items"]


def add_note(c: DashClient, token: str, text: str) -> requests.Response:
    cb = c.callback("notes.data", ["add"])
    return c.call(cb, {("add", "n_clicks"): 1, ("notes", "data"): token, ("name", "value"): text})
