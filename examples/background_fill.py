"""A slow background job fills a store while a progress bar moves.

The job runs in another process (Dash's DiskcacheManager; a CeleryManager works the same
way). It gets the store's value read from the shared dash-stash backend, never through the
manager, and what it returns (and each `set_progress` value sent to a store) is committed
there; the browser only ever holds tokens. "note" writes the same store from a normal
callback: the job's result is merged from what the job read, so neither write is lost.

    pip install "dash-stash[background]"
    python examples/background_fill.py       # or: gunicorn background_fill:server

Every process must reach the same backend: the default SQLite file under ./.dash_stash/ (one
host), or `DASH_STASH_BACKEND=redis://...`; `memory://` cannot work with background jobs.
"""

import os
import time

import diskcache
from dash import Dash, DiskcacheManager, Input, Output, State, html

import dash_stash

ROWS = int(os.environ.get("FILL_ROWS", "20"))
DELAY = float(os.environ.get("FILL_DELAY", "0.2"))  # seconds per row

cache = diskcache.Cache(os.environ.get("FILL_CACHE", "./.dash_stash/jobs"))
app = Dash(__name__, background_callback_manager=DiskcacheManager(cache))
dash_stash.init(app)
server = app.server

app.layout = html.Div(
    [
        html.Button("fill", id="fill"),
        html.Button("cancel", id="cancel", disabled=True),
        html.Button("note", id="note"),
        html.Progress(id="bar", value="0", max=str(ROWS)),
        dash_stash.Store(id="table", data={"rows": [], "notes": 0}),
        html.Pre(id="shown"),
    ]
)


@app.callback(
    Output("table", "data"),
    Input("fill", "n_clicks"),
    State("table", "data"),
    background=True,
    progress=[Output("bar", "value")],
    running=[
        (Output("fill", "disabled"), True, False),
        (Output("cancel", "disabled"), False, True),
    ],
    cancel=[Input("cancel", "n_clicks")],
    prevent_initial_call=True,
)
def fill(set_progress, n_clicks, table):
    """Append ROWS rows, slowly; the bar shows how far it got."""
    rows = list(table["rows"])
    for i in range(ROWS):
        time.sleep(DELAY)
        rows.append({"run": n_clicks, "row": i, "value": i * i})
        set_progress(str(i + 1))
    return {**table, "rows": rows}


@app.callback(
    Output("table", "data", allow_duplicate=True),
    Input("note", "n_clicks"),
    State("table", "data"),
    prevent_initial_call=True,
)
def note(n_clicks, table):
    """A normal callback writing the same store: the job's write is merged with it."""
    return {**table, "notes": table["notes"] + 1}


@app.callback(Output("shown", "children"), Input("table", "data"))
def show(table):
    return f"{len(table['rows'])} rows, {table['notes']} notes"


if __name__ == "__main__":
    app.run(debug=False)
