"""One app, `dcc.Store` and `dash_stash.Store` side by side: what does a callback read back?

Typing a number into `#pick` writes `samples[n]` to both stores (and to a `typed=True` stash
store); a second callback reads all three as Inputs and shows `[n, repr(dcc), repr(stash),
repr(typed)]`. Sample 0 is the stores' layout data, shown on the first render. `repr` tells
apart int and float, key order, str and Timestamp, list and tuple.
"""

from __future__ import annotations

import json
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

import dash_stash


def make_app(
    samples: list[Any],
    backend: str,
    storage_type: str = "memory",
    dcc_skips: frozenset[int] = frozenset(),
) -> Dash:
    """`dcc_skips`: samples a `dcc.Store` cannot hold (Dash's encoder fails): not written to it."""
    app = Dash(__name__)
    dash_stash.init(app, backend)
    app.layout = html.Div(
        [
            dcc.Input(id="pick", type="number"),
            dcc.Store(id="dcc", data=samples[0], storage_type=storage_type),
            dash_stash.Store(id="stash", data=samples[0], storage_type=storage_type),
            dash_stash.Store(id="typed", data=samples[0], storage_type=storage_type, typed=True),
            html.Pre(id="seen"),
        ]
    )

    @app.callback(
        Output("dcc", "data"),
        Output("stash", "data"),
        Output("typed", "data"),
        Input("pick", "value"),
        prevent_initial_call=True,
    )
    def write(n):
        return no_update if n in dcc_skips else samples[n], samples[n], samples[n]

    @app.callback(
        Output("seen", "children"),
        Input("dcc", "data"),
        Input("stash", "data"),
        Input("typed", "data"),
        State("pick", "value"),
    )
    def read(from_dcc, from_stash, from_typed, n):
        return json.dumps([n or 0, repr(from_dcc), repr(from_stash), repr(from_typed)])

    return app
