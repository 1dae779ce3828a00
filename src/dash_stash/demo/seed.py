"""The seed article's app twice, side by side: once on `dcc.Store`, once on `dash_stash.Store`.

Both sides register the very same callbacks (only the store class differs). "load data" sets
both names at once, so the two update callbacks run together on the same snapshot; each
sleeps a little, like the article's slow processing, so that they surely overlap.

To count losses fairly, each update callback also reports the name it wrote in its own small
store ("done" marker, one per callback, so the markers themselves cannot race). Once both
callbacks of a click have answered, `count_losses` checks that the store kept both names.
"""

from __future__ import annotations

import json
import re
import time

from dash import Dash, Input, Output, State, dcc, html
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

import dash_stash

DELAY = 0.2  # seconds each update callback "works": long enough for the two to overlap
SIDES = {
    "dcc": (
        dcc.Store,
        "dcc.Store",
        "Each callback gets the store's value as it was when the "
        "click started, and sends back the whole value: the answer applied last wins, so "
        "the other name is lost.",
    ),
    "stash": (
        dash_stash.Store,
        "dash_stash.Store",
        "Same callbacks, same timing. Each write "
        "is merged on the server into the latest value: both names stay.",
    ),
}
BOX = {"flex": "1", "border": "1px solid #ccc", "borderRadius": "6px", "padding": "0 12px 12px"}


def section() -> Component:
    """The two sides, next to each other."""
    return html.Section(
        [
            html.H2("The seed app, side by side"),
            html.P(
                [
                    "The app from the article ",
                    html.Em("The dark side of allow_duplicate"),
                    ": two callbacks read the store as State, each changes one name and returns "
                    "the whole store. Click “load data” on each side a few times.",
                ]
            ),
            html.Div([side(prefix) for prefix in SIDES], style={"display": "flex", "gap": "16px"}),
        ]
    )


def side(prefix: str) -> Component:
    store_cls, title, note = SIDES[prefix]
    return html.Div(
        [
            html.H3(html.Code(title)),
            html.P(note, style={"color": "#555"}),
            dcc.Input(id=f"{prefix}-first-name", placeholder="first name"),
            dcc.Input(id=f"{prefix}-last-name", placeholder="last name"),
            html.Button("load data", id=f"{prefix}-load"),
            store_cls(id=f"{prefix}-user-data", data={}),
            dcc.Store(id=f"{prefix}-first-done"),
            dcc.Store(id=f"{prefix}-last-done"),
            dcc.Store(id=f"{prefix}-tally", data={"checked": 0, "lost": 0}),
            html.Pre(id=f"{prefix}-show"),
            html.P(id=f"{prefix}-lost", children="no click yet"),
        ],
        style=BOX,
    )


def register(app: Dash) -> None:
    """The article's callbacks, once per side."""
    for prefix in SIDES:
        _register_side(app, prefix)


def _register_side(app: Dash, p: str) -> None:
    store = f"{p}-user-data"

    @app.callback(
        Output(store, "data", allow_duplicate=True),
        Output(f"{p}-first-done", "data"),
        Input(f"{p}-first-name", "value"),
        State(store, "data"),
        prevent_initial_call=True,
    )
    def update_first_name(first_name, user_data):
        if first_name:
            time.sleep(DELAY)
            user_data["first_name"] = first_name
            return user_data, first_name
        raise PreventUpdate

    @app.callback(
        Output(store, "data", allow_duplicate=True),
        Output(f"{p}-last-done", "data"),
        Input(f"{p}-last-name", "value"),
        State(store, "data"),
        prevent_initial_call=True,
    )
    def update_last_name(last_name, user_data):
        if last_name:
            time.sleep(DELAY)
            user_data["last_name"] = last_name
            return user_data, last_name
        raise PreventUpdate

    @app.callback(
        Output(f"{p}-first-name", "value"),
        Output(f"{p}-last-name", "value"),
        Input(f"{p}-load", "n_clicks"),
    )
    def load_data(n_clicks):
        if n_clicks:
            return f"Mickael{n_clicks}", f"Jackson{n_clicks}"
        raise PreventUpdate

    @app.callback(Output(f"{p}-show", "children"), Input(store, "data"))
    def show(user_data):
        return json.dumps(user_data, indent=1, sort_keys=True)

    @app.callback(
        Output(f"{p}-tally", "data"),
        Output(f"{p}-lost", "children"),
        Input(f"{p}-first-done", "data"),
        Input(f"{p}-last-done", "data"),
        State(store, "data"),
        State(f"{p}-tally", "data"),
        prevent_initial_call=True,
    )
    def count_losses(first_done, last_done, user_data, tally):
        click = click_number(first_done)
        if click is None or click != click_number(last_done) or click <= tally["checked"]:
            raise PreventUpdate  # wait until both callbacks of this click have answered
        names = user_data or {}
        kept = [click_number(names.get(k)) or 0 for k in ("first_name", "last_name")]
        tally = {"checked": click, "lost": tally["lost"] + (min(kept) < click)}
        return tally, f"clicks that lost a name: {tally['lost']} of {tally['checked']}"


def click_number(name: object) -> int | None:
    """The click a name was loaded by ("Mickael3" -> 3); None for a name typed by hand."""
    found = re.search(r"(\d+)$", name) if isinstance(name, str) else None
    return int(found.group(1)) if found else None
