"""A slow background job (`background=True`, Dash's DiskcacheManager) fills a store while a
progress bar moves.

The job runs in another process: it reads the store from the shared backend itself (the
manager carries a signed reference, never the value) and commits what it returns there.
"""

from __future__ import annotations

import tempfile
import time

from dash import Dash, Input, Output, State, html
from dash.development.base_component import Component

import dash_stash

ROWS = 10
DELAY = 0.3  # seconds per row


def _manager() -> object | None:
    """Dash's DiskcacheManager, if its packages are installed (dash-stash[background])."""
    try:
        import diskcache
        from dash import DiskcacheManager
    except ImportError:
        return None
    return DiskcacheManager(diskcache.Cache(tempfile.mkdtemp(prefix="dash-stash-demo-jobs-")))


MANAGER = _manager()


def section() -> Component:
    intro = html.P(
        [
            "A ",
            html.Code("background=True"),
            " callback fills this store row by row in another process; the bar is its ",
            html.Code("progress"),
            ". The job is handed a signed reference, reads the store from the backend "
            "itself and commits its result there: no value goes through the job manager.",
        ]
    )
    if MANAGER is None:
        hint = html.P(["Install ", html.Code('"dash-stash[background]"'), " to run it."])
        return html.Section([html.H2("A background job"), intro, hint])
    return html.Section(
        [
            html.H2("A background job"),
            intro,
            dash_stash.Store(id="bg-rows", data=[]),
            html.Button("fill", id="bg-fill"),
            html.Button("cancel", id="bg-cancel", disabled=True),
            html.Progress(id="bg-bar", value="0", max=str(ROWS)),
            html.Pre(id="bg-show"),
        ]
    )


def register(app: Dash) -> None:
    if MANAGER is None:
        return

    @app.callback(
        Output("bg-rows", "data"),
        Input("bg-fill", "n_clicks"),
        State("bg-rows", "data"),
        background=True,
        manager=MANAGER,
        progress=[Output("bg-bar", "value")],
        running=[
            (Output("bg-fill", "disabled"), True, False),
            (Output("bg-cancel", "disabled"), False, True),
        ],
        cancel=[Input("bg-cancel", "n_clicks")],
        prevent_initial_call=True,
    )
    def fill_rows(set_progress, n_clicks, rows):
        rows = list(rows)
        for i in range(ROWS):
            time.sleep(DELAY)
            rows.append(f"fill {n_clicks}, row {i + 1}")
            set_progress(str(i + 1))
        return rows

    @app.callback(Output("bg-show", "children"), Input("bg-rows", "data"))
    def show_rows(rows):
        return f"{len(rows)} rows" + (f"; last: {rows[-1]}" if rows else "")
