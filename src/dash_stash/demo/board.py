"""A shared sticky-note board in `app` scope: every visitor sees one board, live.

Open it in two browsers and write in both at once: each note appears on the other page
within a fraction of a second, without a click (the server streams a fresh token to every
open page when the board changes), and none is lost. Adding appends with a `Patch`;
removing and moving read the board, change it and return it whole, and the server merges
that change into the latest board, so a note added meanwhile by someone else stays.
"""

from __future__ import annotations

import secrets

from dash import ALL, Dash, Input, Output, Patch, State, ctx, dcc, html
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

import dash_stash

COLOURS = ("#fff59d", "#ffcc80", "#a5d6a7", "#90caf9", "#f48fb1")


def section() -> Component:
    return html.Section(
        [
            html.H2("A shared board in app scope"),
            html.P(
                [
                    "Kept with ",
                    html.Code('dash_stash.Store(storage_type="app")'),
                    ": one board for everyone. Open this page in another browser and add "
                    "notes in both: each page shows the other's notes at once, and none is "
                    "lost when you write at the same moment.",
                ]
            ),
            dash_stash.Store(id="board-notes", data=[], storage_type="app"),
            dcc.Input(id="board-new", placeholder="a note for everyone"),
            html.Button("pin it", id="board-add"),
            html.Div(
                id="board-wall",
                style={"display": "flex", "flexWrap": "wrap", "gap": "8px", "marginTop": "8px"},
            ),
        ]
    )


def register(app: Dash) -> None:
    @app.callback(
        Output("board-notes", "data", allow_duplicate=True),
        Output("board-new", "value"),
        Input("board-add", "n_clicks"),
        Input("board-new", "n_submit"),
        State("board-new", "value"),
        prevent_initial_call=True,
    )
    def add_note(_clicks, _submits, text):
        if not text or not text.strip():
            raise PreventUpdate
        notes = Patch()
        colour = COLOURS[secrets.randbelow(len(COLOURS))]
        notes.append({"id": secrets.token_hex(4), "text": text.strip()[:200], "colour": colour})
        return notes, ""

    @app.callback(
        Output("board-notes", "data", allow_duplicate=True),
        Input({"type": "board-remove", "note": ALL}, "n_clicks"),
        State("board-notes", "data"),
        prevent_initial_call=True,
    )
    def remove_note(_clicks, notes):
        clicked = ctx.triggered_id
        if not clicked or not ctx.triggered[0]["value"]:
            raise PreventUpdate  # notes re-rendered, not clicked
        return [n for n in notes if n["id"] != clicked["note"]]

    @app.callback(Output("board-wall", "children"), Input("board-notes", "data"))
    def show_notes(notes):
        if not notes:
            return [html.Span("the board is empty: pin the first note", style={"color": "#777"})]
        return [note(n) for n in notes]


def note(n: dict) -> Component:
    return html.Div(
        [
            html.Span(n["text"]),
            html.Button(
                "✕",
                id={"type": "board-remove", "note": n["id"]},
                title="take it down",
                style={"marginLeft": "8px", "border": "none", "background": "none"},
            ),
        ],
        className="board-note",
        style={
            "background": n["colour"],
            "padding": "10px",
            "width": "160px",
            "minHeight": "60px",
            "boxShadow": "1px 2px 4px #0003",
        },
    )
