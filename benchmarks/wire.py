"""Bytes per click and click-to-output time: `dcc.Store` against `dash_stash.Store`.

    .venv/bin/python benchmarks/wire.py [--rows 1000 10000 100000] [--clicks 7] [--warmup 2]
                                        [--plot docs/img/wire.png]

For each table size (rows x 10 float columns, a list of records) and each store, an app with
the table in the store, a button, and a callback that reads the store as `State` and writes
the sum of the table to a Div. Each app runs in its own server process (werkzeug, threaded);
headless Chromium clicks. Bytes are the request and response bodies of the
`_dash-update-component` calls of one click, seen by Playwright during the warm-up clicks;
time is measured in the page, from the click to a MutationObserver seeing the new output,
on later clicks with no Playwright listener attached. dash-stash runs on SQLite in a temp dir.
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
    ROOT,
    ProcessServer,
    free_port,
    launch_chromium,
    machine,
    median,
    serve_forever,
    table,
)

KINDS = {"dcc": "dcc.Store", "stash": "dash_stash.Store"}
COLUMNS = 10


def make_table(rows: int) -> list[dict[str, float]]:
    rng = random.Random(rows)
    return [{f"c{j}": rng.random() for j in range(COLUMNS)} for _ in range(rows)]


def make_app(kind: str, rows: int, db: str):
    from dash import Dash, Input, Output, State, dcc, html

    app = Dash(__name__)
    data = make_table(rows)
    if kind == "stash":
        import dash_stash

        dash_stash.init(app, f"sqlite:///{db}", max_value_bytes=2**30)  # up to 1M rows
        store = dash_stash.Store(id="table", data=data)
    else:
        store = dcc.Store(id="table", data=data)
    app.layout = html.Div([store, html.Button("sum", id="btn"), html.Div("-", id="out")])

    @app.callback(
        Output("out", "children"),
        Input("btn", "n_clicks"),
        State("table", "data"),
        prevent_initial_call=True,
    )
    def total(n_clicks, table):
        return f"click {n_clicks}: sum {sum(sum(row.values()) for row in table):.3f}"

    return app


def measure(browser, url: str, warmup: int, clicks: int) -> tuple[float, list[float]]:
    """Mean bytes per click over the warm-up clicks, and the times of the timed clicks (ms)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.goto(url)
    page.wait_for_selector("#out")
    started, finished = [], []

    def on_request(request):
        if "_dash-update-component" in request.url:
            started.append(request)

    def on_finished(request):
        if "_dash-update-component" in request.url:
            finished.append(request)

    page.on("request", on_request)
    page.on("requestfinished", on_finished)
    sizes = []
    for _ in range(warmup):
        started.clear()
        finished.clear()
        page.evaluate(CLICK, ["btn", "out", 120_000])
        while len(finished) < len(started) or not started:
            page.wait_for_timeout(5)
        sizes.append(
            sum(len(r.post_data_buffer or b"") + response_size(r.response()) for r in finished)
        )
    page.remove_listener("request", on_request)
    page.remove_listener("requestfinished", on_finished)
    times = [page.evaluate(CLICK, ["btn", "out", 120_000]) for _ in range(clicks)]
    context.close()
    return sum(sizes) / len(sizes), times


def response_size(response) -> int:
    """The response body's length; Chromium drops bodies after a huge request, so then the
    Content-Length header (Dash's JSON responses are not compressed or chunked)."""
    from playwright.sync_api import Error

    try:
        return len(response.body())
    except Error:
        return int(response.headers["content-length"])


def plot(results: dict[tuple[str, int], float], rows: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for kind, label in KINDS.items():
        ax.plot(rows, [results[kind, n] for n in rows], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows in the store (x 10 float columns)")
    ax.set_ylabel("median click-to-output time (ms)")
    ax.set_title("A callback reading a table from a store")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--clicks", type=int, default=7, help="timed clicks per app")
    parser.add_argument("--warmup", type=int, default=2, help="clicks before timing")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "img" / "wire.png")
    parser.add_argument(
        "--serve", nargs=4, metavar=("KIND", "ROWS", "PORT", "DB"), help=argparse.SUPPRESS
    )  # internal: run one app server
    args = parser.parse_args()
    if args.serve:
        kind, rows, port, db = args.serve
        serve_forever(make_app(kind, int(rows), db), int(port))
        return

    from playwright.sync_api import sync_playwright

    print(machine())
    results: dict[tuple[str, int], float] = {}
    table_rows = []
    with tempfile.TemporaryDirectory(prefix="dash-stash-wire-") as tmp, sync_playwright() as pw:
        browser = launch_chromium(pw)
        for rows in args.rows:
            for kind, label in KINDS.items():
                port = free_port()
                server = ProcessServer(
                    [
                        sys.executable,
                        __file__,
                        "--serve",
                        kind,
                        str(rows),
                        str(port),
                        f"{tmp}/{kind}-{rows}.db",
                    ],
                    port,
                )
                try:
                    size, times = measure(browser, server.url, args.warmup, args.clicks)
                finally:
                    server.stop()
                results[kind, rows] = median(times)
                speedup = results["dcc", rows] / results[kind, rows]
                table_rows.append(
                    (f"{rows:,}", label, f"{size:,.0f}", f"{median(times):.1f}", f"{speedup:.1f}x")
                )
                print(
                    f"  {rows:,} rows, {label}: {size:,.0f} B/click, "
                    f"clicks {', '.join(f'{t:.0f}' for t in times)} ms",
                    flush=True,
                )
        browser.close()
    print()
    print(table(["rows", "store", "bytes/click", "median ms", "speedup"], table_rows))
    if args.plot:
        plot(results, args.rows, args.plot)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
