"""The demo gallery app: what dash-stash changes, one section each."""

from __future__ import annotations

from dash import Dash, html

import dash_stash

from . import NAMESPACE, background, board, seed, table, todo


def make_app(backend: str | None = None) -> Dash:
    """The gallery app; `backend` is a dash-stash URL (default: DASH_STASH_BACKEND or SQLite)."""
    app = Dash(__name__, title="dash-stash demo")
    dash_stash.init(app, backend, namespace=NAMESPACE)
    app.layout = html.Main(
        [
            html.H1("dash-stash demo"),
            html.P(
                [
                    "A drop-in ",
                    html.Code("dcc.Store"),
                    " whose data lives on the server. See what the stores hold with ",
                    html.Code(f"dash-stash inspect --namespace {NAMESPACE}"),
                    ".",
                ]
            ),
            seed.section(),
            todo.section(),
            board.section(),
            table.section(),
            background.section(),
        ],
        style={"fontFamily": "system-ui, sans-serif", "maxWidth": "1000px", "margin": "auto"},
    )
    for part in (seed, todo, board, table, background):
        part.register(app)
    return app
