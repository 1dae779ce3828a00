"""A DataFrame in a store: dcc.Store, dash-extensions `Serverside` and dash-stash side by side.

    .venv/bin/python benchmarks/tables.py [--rows 1000 10000 100000 1000000] [--clicks 7]
                                          [--kinds dcc dex stash] [--profile stash]
                                          [--plot docs/img/tables.png]

For each size (rows x 10 numeric columns: 8 float64, 2 int64) and each store kind, an app with
an empty store, a "write" button whose callback puts the DataFrame in the store, and a "read"
button whose callback gets the store as `State` and shows the sum of the table:

- dcc: `dcc.Store`, written as `df.to_dict("records")`, read back with `pd.DataFrame(records)`;
- dash-extensions: `Serverside(df)` with `ServersideOutputTransform()`'s default file backend
  (a pickle file per write under ./file_system_backend, here in a temp dir);
- dash-stash: `dash_stash.Store` on SQLite in a temp dir (the frame goes through Arrow IPC).

Each app runs in its own server process (werkzeug, threaded); headless Chromium clicks. Time is
measured in the page, from the click to a MutationObserver seeing the callback's output; one
warm-up click of each button, then `--clicks` timed ones (`--big-clicks` from 1M rows); all
writes first, then all reads. Bytes are the request and response bodies of
`/_dash-update-component` per click (warm-up included), counted by the server.
Memory is the server's peak RSS during the clicks minus its RSS before them (psutil samples
every 2 ms in a thread, and the kernel's VmHWM, reset before the clicks; the larger wins).
dcc.Store is skipped at a size where one click takes longer than `--max-click` seconds.
`--profile KIND` prints a cProfile of that kind's callback requests, writes and reads apart
(it slows them: use it to see where the time goes, not for the table).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
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

KINDS = {
    "dcc": "dcc.Store (records)",
    "dex": "dash-extensions Serverside",
    "stash": "dash-stash (SQLite)",
}
COLUMNS = 10
BIG = 1_000_000  # from this size on: fewer clicks

# ---- the server side (runs in the server process) -------------------------------------------


def make_frame(rows: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(rows)
    columns = {f"f{j}": rng.random(rows) for j in range(COLUMNS - 2)}
    columns |= {f"i{j}": rng.integers(-(10**6), 10**6, rows) for j in range(2)}
    return pd.DataFrame(columns)


def total(df) -> str:
    return f"{float(df.to_numpy(dtype='float64').sum()):.6f}"


def same(value):
    return value


def records(df) -> list[dict]:
    return df.to_dict("records")


def make_app(kind: str, rows: int, folder: str):
    """The app of one kind; `store`, and how a callback puts the frame in and gets it out."""
    import pandas as pd

    frame = make_frame(rows)
    if kind == "dex":
        from dash_extensions.enrich import (
            DashProxy,
            Input,
            Output,
            Serverside,
            ServersideOutputTransform,
            State,
            dcc,
            html,
        )

        os.chdir(folder)  # the default backend writes to ./file_system_backend
        app = DashProxy(__name__, transforms=[ServersideOutputTransform()])
        store, to_store, from_store = dcc.Store(id="table"), Serverside, same
    else:
        from dash import Dash, Input, Output, State, dcc, html

        app = Dash(__name__)
        if kind == "stash":
            import dash_stash

            # up to a million rows: over the default 32 MiB per value
            dash_stash.init(app, f"sqlite:///{folder}/stash.db", max_value_bytes=2**30)
            store, to_store, from_store = dash_stash.Store(id="table"), same, same
        else:
            store, to_store, from_store = dcc.Store(id="table"), records, pd.DataFrame

    app.layout = html.Div(
        [
            store,
            html.Button("write", id="write"),
            html.Div("-", id="wrote"),
            html.Button("read", id="read"),
            html.Div("-", id="out"),
        ]
    )

    @app.callback(
        Output("table", "data"),
        Output("wrote", "children"),
        Input("write", "n_clicks"),
        prevent_initial_call=True,
    )
    def write(n):
        return to_store(frame), f"wrote {n}"

    @app.callback(
        Output("out", "children"),
        Input("read", "n_clicks"),
        State("table", "data"),
        prevent_initial_call=True,
    )
    def read(n, value):
        return f"read {n}: sum {total(from_store(value))}"

    instrument(app.server, os.environ.get("TABLES_PROFILE") == "1")
    return app


def instrument(server, profile: bool) -> None:
    """Count the bodies of callback requests and responses (served as JSON at /_bench/bytes);
    with `profile`, cProfile each callback request (the stats so far at /_bench/profile)."""
    counts = {"in": 0, "out": 0, "calls": 0}
    wsgi = server.wsgi_app

    def counted(body):
        for chunk in body:
            counts["out"] += len(chunk)
            yield chunk

    def counting(environ, start_response):
        if environ.get("PATH_INFO") != "/_dash-update-component":
            return wsgi(environ, start_response)
        counts["calls"] += 1
        counts["in"] += int(environ.get("CONTENT_LENGTH") or 0)
        return counted(wsgi(environ, start_response))

    server.wsgi_app = counting
    server.add_url_rule("/_bench/bytes", "bench_bytes", lambda: counts)
    if profile:
        profile_callbacks(server)


def profile_callbacks(server) -> None:
    """cProfile Dash's callback view where it runs (with dash[async], in asgiref's thread)."""
    import cProfile
    import inspect
    import io
    import pstats

    stats: list[pstats.Stats] = []
    view = server.view_functions["/_dash-update-component"]

    def keep(profiler):
        stats.append(pstats.Stats(profiler))

    if inspect.iscoroutinefunction(view):

        async def profiled(*args, **kwargs):
            profiler = cProfile.Profile()
            profiler.enable()
            try:
                return await view(*args, **kwargs)
            finally:
                profiler.disable()
                keep(profiler)
    else:

        def profiled(*args, **kwargs):
            profiler = cProfile.Profile()
            try:
                return profiler.runcall(view, *args, **kwargs)
            finally:
                keep(profiler)

    def report():
        """The profile of the callbacks since the last report, slowest first."""
        if not stats:
            return "no profile\n"
        merged, out = stats[0], io.StringIO()
        merged.add(*stats[1:])
        stats.clear()
        merged.stream = out
        merged.sort_stats("cumulative").print_stats(35)
        return out.getvalue()

    server.view_functions["/_dash-update-component"] = profiled
    server.add_url_rule("/_bench/profile", "bench_profile", report)


# ---- the browser side ------------------------------------------------------------------------


class PeakRss:
    """The peak RSS of a process from now on: psutil samples in a thread, plus VmHWM."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.pid = pid
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        _reset_hwm(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> int:
        """Peak minus baseline, in bytes."""
        self._stop.set()
        self._thread.join()
        return max(self.peak, _hwm(self.pid)) - self.baseline


def _reset_hwm(pid: int) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _hwm(pid: int) -> int:
    try:
        for text in Path(f"/proc/{pid}/status").read_text().splitlines():
            if text.startswith("VmHWM:"):
                return int(text.split()[1]) * 1024
    except OSError:
        pass
    return 0


def wire_bytes(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_bench/bytes", timeout=30) as response:
        counts = json.load(response)
    return counts["in"] + counts["out"]


class TooSlow(Exception):
    """A click took longer than the limit."""


def clicks(page, url: str, button: str, output: str, n: int, limit: float):
    """One warm-up click, then `n` timed ones: (times in ms, mean bytes per click, last text)."""
    times, sizes = [], []
    for i in range(n + 1):
        before = wire_bytes(url)
        try:
            ms = page.evaluate(CLICK, [button, output, int(limit * 1000)])
        except Exception as exc:
            if "no output after" in str(exc):
                raise TooSlow from None
            raise
        sizes.append(wire_bytes(url) - before)
        if i:
            times.append(ms)
    return times, sum(sizes) / len(sizes), page.locator(f"#{output}").text_content()


def measure(
    browser, kind: str, rows: int, folder: str, n: int, limit: float, profile: bool = False
) -> dict:
    port = free_port()
    server = ProcessServer(
        [sys.executable, __file__, "--serve", kind, str(rows), str(port), folder],
        port,
        env={"TABLES_PROFILE": "1" if profile else "0"},
    )
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(server.url)
        page.wait_for_selector("#out")
        memory = PeakRss(server.proc.pid)
        try:
            write_ms, write_bytes, _ = clicks(page, server.url, "write", "wrote", n, limit)
            show_profile(server.url, f"{KINDS[kind]}, {rows:,} rows, writes", profile)
            read_ms, read_bytes, text = clicks(page, server.url, "read", "out", n, limit)
            show_profile(server.url, f"{KINDS[kind]}, {rows:,} rows, reads", profile)
        finally:
            peak = memory.stop()
        return {
            "write_ms": write_ms,
            "write_bytes": write_bytes,
            "read_ms": read_ms,
            "read_bytes": read_bytes,
            "peak": peak,
            "text": text,
        }
    finally:
        context.close()
        server.stop()


def show_profile(url: str, title: str, profile: bool) -> None:
    if profile:
        with urllib.request.urlopen(f"{url}/_bench/profile", timeout=60) as response:
            print(f"\n---- cProfile: {title} (all clicks) ----\n{response.read().decode()}")


def row(rows: int, label: str, r: dict, dcc: dict | None) -> tuple:
    write, read = median(r["write_ms"]), median(r["read_ms"])
    return (
        f"{rows:,}",
        label,
        f"{write:,.0f}",
        f"{read:,.0f}",
        f"{median(dcc['write_ms']) / write:.1f}x" if dcc else "-",
        f"{median(dcc['read_ms']) / read:.1f}x" if dcc else "-",
        f"{r['write_bytes']:,.0f}",
        f"{r['read_bytes']:,.0f}",
        f"{r['peak'] / 2**20:,.0f}",
    )


def plot(results: dict, rows: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, what, title in (
        (axes[0], "write_ms", "write (callback returns the frame)"),
        (axes[1], "read_ms", "read (callback gets it as State)"),
    ):
        for kind, label in KINDS.items():
            sizes = [n for n in rows if (kind, n) in results]
            ax.plot(sizes, [median(results[kind, n][what]) for n in sizes], marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows in the DataFrame (x 10 numeric columns)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("median click-to-output time (ms)")
    axes[1].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--clicks", type=int, default=7, help="timed clicks per button")
    parser.add_argument("--big-clicks", type=int, default=3, help="the same from 1M rows")
    parser.add_argument(
        "--max-click",
        type=float,
        default=60.0,
        help="skip dcc.Store at a size where a click takes longer (s)",
    )
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS))
    parser.add_argument(
        "--profile",
        nargs="*",
        choices=list(KINDS),
        default=[],
        help="cProfile these kinds' callbacks on the server (slows them)",
    )
    parser.add_argument(
        "--plot",
        default=str(ROOT / "docs" / "img" / "tables.png"),
        help='where to save the plot ("" for none)',
    )
    parser.add_argument(
        "--serve", nargs=4, metavar=("KIND", "ROWS", "PORT", "DIR"), help=argparse.SUPPRESS
    )  # internal: run one app server
    args = parser.parse_args()
    if args.serve:
        kind, rows, port, folder = args.serve
        serve_forever(make_app(kind, int(rows), folder), int(port))
        return

    from playwright.sync_api import sync_playwright

    print(machine(), flush=True)
    started = time.monotonic()
    results: dict[tuple[str, int], dict] = {}
    lines = []
    with tempfile.TemporaryDirectory(prefix="dash-stash-tables-") as tmp, sync_playwright() as pw:
        browser = launch_chromium(pw)
        for rows in args.rows:
            n = args.big_clicks if rows >= BIG else args.clicks
            for kind in args.kinds:
                label = KINDS[kind]
                folder = Path(tmp) / f"{kind}-{rows}"
                folder.mkdir()
                limit = args.max_click if kind == "dcc" else 600.0
                try:
                    r = results[kind, rows] = measure(
                        browser, kind, rows, str(folder), n, limit, kind in args.profile
                    )
                except TooSlow:
                    lines.append(
                        (f"{rows:,}", label, f"skipped: > {args.max_click:.0f} s/click", *["-"] * 6)
                    )
                    print(
                        f"  {rows:,} rows, {label}: skipped, a click takes over "
                        f"{args.max_click:.0f} s",
                        flush=True,
                    )
                    continue
                lines.append(row(rows, label, r, results.get(("dcc", rows))))
                print(
                    f"  {rows:,} rows, {label}: write "
                    f"{', '.join(f'{t:.0f}' for t in r['write_ms'])} ms, read "
                    f"{', '.join(f'{t:.0f}' for t in r['read_ms'])} ms, {r['text']!r}, "
                    f"peak +{r['peak'] / 2**20:,.0f} MiB ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
            sums = {
                results[k, rows]["text"].split(": ", 1)[1] for k in KINDS if (k, rows) in results
            }
            if len(sums) > 1:
                print(f"  WARNING: the stores disagree on the sum at {rows:,} rows: {sums}")
        browser.close()
    print()
    print(
        table(
            [
                "rows",
                "store",
                "write ms",
                "read ms",
                "write vs dcc",
                "read vs dcc",
                "bytes/write",
                "bytes/read",
                "server peak MiB",
            ],
            lines,
        )
    )
    print(f"\ntotal {time.monotonic() - started:.0f} s")
    if args.plot:
        plot(results, args.rows, Path(args.plot))
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
