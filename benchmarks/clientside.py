"""Click-to-output of a clientside callback reading a store: `dcc.Store` against
`dash_stash.Store` (whose wrapper fetches the value from the server first).

    .venv/bin/python benchmarks/clientside.py [--clicks 15] [--warmup 3]

Two stores: 10 keys, and 10,000 rows x 10 float columns (a list of records). The clientside
callback reads the store as `State` on a button click and writes a count or a sum to a Div.
Each app runs in its own server process (werkzeug, threaded), dash-stash on SQLite in a temp
dir; times are taken in headless Chromium from the click to a MutationObserver seeing the new
output (the same snippet as wire.py); the table shows the median.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    CLICK,
    ProcessServer,
    free_port,
    launch_chromium,
    machine,
    median,
    serve_forever,
    table,
)

KINDS = {"dcc": "dcc.Store", "stash": "dash_stash.Store"}
SIZES = {"10 keys": 0, "10,000 rows": 10_000}
SUM = """function (clicks, data) {
    if (!clicks) { return window.dash_clientside.no_update; }
    if (!Array.isArray(data)) { return "click " + clicks + ": " + Object.keys(data).length; }
    let total = 0;
    for (const row of data) { for (const k in row) { total += row[k]; } }
    return "click " + clicks + ": sum " + total.toFixed(3);
}"""


def make_data(rows: int) -> object:
    rng = random.Random(rows)
    if not rows:
        return {f"key{i}": rng.random() for i in range(10)}
    return [{f"c{j}": rng.random() for j in range(10)} for _ in range(rows)]


def make_app(kind: str, rows: int, db: str):
    from dash import Dash, Input, Output, State, dcc, html

    app = Dash(__name__)
    if kind == "stash":
        import dash_stash

        dash_stash.init(app, f"sqlite:///{db}")
        store = dash_stash.Store(id="s", data=make_data(rows))
    else:
        store = dcc.Store(id="s", data=make_data(rows))
    app.layout = html.Div([store, html.Button("read", id="btn"), html.Div("-", id="out")])
    app.clientside_callback(
        SUM, Output("out", "children"), Input("btn", "n_clicks"), State("s", "data")
    )
    return app


def measure(browser, url: str, warmup: int, clicks: int) -> list[float]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    page.wait_for_selector("#out")
    for _ in range(warmup):
        page.evaluate(CLICK, ["btn", "out", 60_000])
    times = [page.evaluate(CLICK, ["btn", "out", 60_000]) for _ in range(clicks)]
    context.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=15, help="timed clicks per app")
    parser.add_argument("--warmup", type=int, default=3, help="clicks before timing")
    parser.add_argument("--serve", nargs=4, help=argparse.SUPPRESS)  # internal: one server
    args = parser.parse_args()
    if args.serve:
        kind, rows, port, db = args.serve
        serve_forever(make_app(kind, int(rows), db), int(port))
        return

    from playwright.sync_api import sync_playwright

    print(machine())
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="dash-stash-cs-") as tmp, sync_playwright() as pw:
        browser = launch_chromium(pw)
        for size, rows in SIZES.items():
            medians = {}
            for kind, label in KINDS.items():
                port = free_port()
                argv = [sys.executable, __file__, "--serve", kind, str(rows), str(port)]
                server = ProcessServer([*argv, f"{tmp}/{kind}-{rows}.db"], port)
                try:
                    times = measure(browser, server.url, args.warmup, args.clicks)
                finally:
                    server.stop()
                medians[kind] = median(times)
                extra = f"+{medians[kind] - medians['dcc']:.1f}" if kind != "dcc" else ""
                rows_out.append((size, label, f"{medians[kind]:.1f}", extra))
                print(f"  {size}, {label}: {', '.join(f'{t:.0f}' for t in times)} ms", flush=True)
        browser.close()
    print()
    print(table(["store", "kind", "median ms", "added ms"], rows_out))


if __name__ == "__main__":
    main()
