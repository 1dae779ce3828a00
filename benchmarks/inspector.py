"""What the "Stores" panel costs a callback: nothing when closed, and how much when open.

Four servers of the same app (one process each, werkzeug threaded), each clicked in headless
Chromium; the time is from the click to the output changing (median of `--clicks`):

- `debug, no panel code`: debug mode with the panel's JS and dev tools entry taken out
- `debug, panel closed`: what every `debug=True` app has
- `debug, panel open`: the panel open on the written store (it polls once a second)
- `production`: no debug, for reference

Then the panel's own requests, timed over HTTP: the poll of the page's stores, and one value
node of the selected store.

    .venv/bin/python benchmarks/inspector.py [--clicks 30]
"""

from __future__ import annotations

import argparse
import sys
import time
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

MODES = ["debug, no panel code", "debug, panel closed", "debug, panel open", "production"]


def make_app(mode: str):  # noqa: ANN201 - a Dash app
    import tempfile

    from dash import Dash, Input, Output, Patch, html

    import dash_stash
    import dash_stash.adapter.inspector

    if mode == "debug, no panel code":
        dash_stash._js_dist = []
        dash_stash.adapter.inspector.register_devtool = lambda: None
    app = Dash("bench_inspector")
    folder = tempfile.mkdtemp(prefix="dash-stash-bench-")
    dash_stash.init(app, f"sqlite:///{folder}/stash.db")
    app.layout = html.Div(
        [
            dash_stash.Store(id="doc", data={"n": 0, "rows": [{"i": i} for i in range(200)]}),
            *[dash_stash.Store(id=f"other{i}", data={"i": i}) for i in range(9)],
            html.Button("inc", id="inc"),
            html.Div(id="out"),
        ]
    )

    @app.callback(Output("doc", "data"), Input("inc", "n_clicks"), prevent_initial_call=True)
    def inc(_):
        patch = Patch()
        patch["n"] += 1
        return patch

    @app.callback(Output("out", "children"), Input("doc", "data"))
    def show(doc):
        return f"n={doc['n']}"

    if mode != "production":
        app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)
    return app


def click_times(browser, url: str, mode: str, clicks: int) -> tuple[list[float], int]:
    """Click-to-output times, and how many requests the panel made meanwhile."""
    page = browser.new_page()
    panel_requests = []
    page.on("request", lambda r: "/_dash-stash/" in r.url and panel_requests.append(r.url))
    page.goto(url)
    page.wait_for_selector("#out:has-text('n=0')")
    if mode == "debug, panel open":
        page.click("#dash-stash-panel-button")
        page.click(".ds-store[data-id='doc']")
        page.wait_for_selector("#ds-value")
    for _ in range(3):  # warm up
        page.evaluate(CLICK, ["inc", "out", 20_000])
    panel_requests.clear()
    times = []
    for _ in range(clicks):
        times.append(page.evaluate(CLICK, ["inc", "out", 20_000]))
        time.sleep(0.2)  # let a poll of the open panel overlap some clicks, as in real use
    page.close()
    return times, len(panel_requests)


def panel_requests(url: str, repeat: int = 50) -> list[list[str]]:
    import requests

    from dash_stash.tokens import PREFIX

    http = requests.Session()
    http.get(url + "/")
    layout = http.get(url + "/_dash-layout").json()
    tokens = []

    def walk(node):
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            props = node.get("props", {})
            data = props.get("data")
            if isinstance(data, str) and data.startswith(PREFIX):
                tokens.append({"id": props["id"], "token": data})
            walk(props.get("children"))

    walk(layout)
    doc = next(t for t in tokens if t["id"] == "doc")
    rows = []
    for name, body in (("stores (10 stores)", {"stores": tokens}), ("value (root node)", doc)):
        path = "stores" if name.startswith("stores") else "value"
        times, size = [], 0
        for _ in range(repeat):
            start = time.perf_counter()
            reply = http.post(f"{url}/_dash-stash/panel/{path}", json=body)
            times.append((time.perf_counter() - start) * 1000)
            reply.raise_for_status()
            size = len(reply.content)
        rows.append([name, f"{median(times):.1f}", f"{size:,}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--serve", nargs=2, metavar=("MODE", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_forever(make_app(MODES[int(args.serve[0])]), int(args.serve[1]))
        return

    from playwright.sync_api import sync_playwright

    servers = {}
    for index, mode in enumerate(MODES):
        port = free_port()
        argv = [sys.executable, __file__, "--serve", str(index), str(port)]
        servers[mode] = ProcessServer(argv, port)
    try:
        results: dict[str, list[float]] = {}
        polls: dict[str, int] = {}
        with sync_playwright() as p:
            browser = launch_chromium(p)
            for _ in range(2):  # two rounds, interleaved, so drift hits every mode alike
                for mode in MODES:
                    times, n = click_times(browser, servers[mode].url, mode, args.clicks // 2)
                    results.setdefault(mode, []).extend(times)
                    polls[mode] = polls.get(mode, 0) + n
            browser.close()
        base = median(results[MODES[0]])
        rows = [
            [
                mode,
                len(results[mode]),
                f"{median(results[mode]):.1f}",
                f"{median(results[mode]) - base:+.1f}",
                polls[mode],
            ]
            for mode in MODES
        ]
        print(f"machine: {machine()}\n")
        print("click to output, one Patch write and one dependent callback:\n")
        print(table(["app", "clicks", "median ms", "vs no panel code", "panel requests"], rows))
        print("\nthe open panel's own requests (median of 50, over HTTP):\n")
        print(table(["request", "median ms", "reply bytes"], panel_requests(servers[MODES[1]].url)))
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main()
