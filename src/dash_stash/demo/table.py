"""A store holding a 100,000-row table, summarized by a callback that reads it as State.

With `dcc.Store` the whole table would travel browser -> server on every click; here the
browser sends a token and the callback still receives the table.
"""

from __future__ import annotations

import random
import time
from typing import Any

import flask
import orjson
from dash import Dash, Input, Output, State, html
from dash.development.base_component import Component

import dash_stash
from dash_stash import codec
from dash_stash.errors import StashError

ROWS, COLUMNS = 100_000, 10


def make_records(rows: int = ROWS) -> list[dict[str, float]]:
    """A seeded random table; column c<i> holds i + a uniform draw, so its mean is near i + .5."""
    rng = random.Random(7)
    names = [f"c{i}" for i in range(COLUMNS)]
    return [
        dict(zip(names, [i + rng.random() for i in range(COLUMNS)], strict=True))
        for _ in range(rows)
    ]


def as_table(records: list[dict[str, float]]) -> Any:
    """A DataFrame when pandas is there and the codec stores DataFrames, else the records.

    A DataFrame is stored as Arrow (about a third of the JSON size and faster to read).
    """
    try:
        import pandas as pd

        frame = pd.DataFrame.from_records(records)
        codec.encode(frame.head(2))
    except (ImportError, StashError):
        return records
    return frame


def section() -> Component:
    records = make_records()
    json_mb = len(orjson.dumps(records)) / 1e6
    table = as_table(records)
    return html.Section(
        [
            html.H2("A large table"),
            html.P(
                f"This store holds {ROWS:,} rows x {COLUMNS} columns "
                f"(a {type(table).__module__.split('.')[0]}.{type(table).__name__}). "
                f"As JSON it is {json_mb:.1f} MB: a dcc.Store would send all of it from the "
                "browser with every click that reads it. Here the browser sends a token."
            ),
            dash_stash.Store(id="big-table", data=table),
            html.Button("summarize the table", id="table-summarize"),
            html.Pre(id="table-summary"),
        ]
    )


def register(app: Dash) -> None:
    app.server.before_request(_start_clock)

    @app.callback(
        Output("table-summary", "children"),
        Input("table-summarize", "n_clicks"),
        State("big-table", "data"),
        prevent_initial_call=True,
    )
    def summarize(_clicks, table):
        rows, means = summary(table)
        took = (time.perf_counter() - flask.g.demo_clock) * 1000
        return "\n".join(
            [
                f"{rows:,} rows",
                "column means: " + "  ".join(f"{name} {mean:.3f}" for name, mean in means.items()),
                f"time on the server: {took:.0f} ms (reading the store included)",
                f"the browser sent {flask.request.content_length or 0:,} bytes for this click",
            ]
        )


def summary(table: Any) -> tuple[int, dict[str, float]]:
    """Row count and column means, for a list of records or a DataFrame."""
    if isinstance(table, list):
        names = list(table[0]) if table else []
        return len(table), {n: sum(r[n] for r in table) / len(table) for n in names}
    return len(table), {str(k): float(v) for k, v in table.mean().items()}


def _start_clock() -> None:
    flask.g.demo_clock = time.perf_counter()
