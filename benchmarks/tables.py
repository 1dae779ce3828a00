"""A DataFrame in a store: dcc.Store, dash-extensions `Serverside` and dash-stash side by side.

    .venv/bin/python benchmarks/tables.py [--rows 1000 10000 100000 1000000] [--mixed-rows 1000000]
                                          [--clicks 7] [--kinds dcc dex stash records]
                                          [--profile stash] [--trace] [--plot docs/img/tables.png]
    .venv/bin/python benchmarks/tables.py --codec     # in-process: compression at each size

For each size (rows x 10 numeric columns: 8 float64, 2 int64; and a "mixed" frame of floats,
ints, strings, a category, naive and tz-aware datetimes, nullable ints and booleans) and each
store kind, an app with an empty store, a "write" button whose callback puts the DataFrame in
the store, and a "read" button whose callback gets the store as `State` and shows a sum:

- dcc: `dcc.Store`, written as `df.to_dict("records")`, read back with `pd.DataFrame(records)`
  (up to `--dcc-max-rows`, 100,000: a 1M-row click takes 10 s and 1 GB);
- dex: dash-extensions `Serverside(df)` with `ServersideOutputTransform()`'s default file
  backend (a pickle file per write under ./file_system_backend, here in a temp dir);
- stash: `dash_stash.Store` on SQLite in a temp dir (the frame goes through Arrow IPC);
- records: `dash_stash.Store` holding `df.to_dict("records")` (JSON through orjson), read back
  with `pd.DataFrame(records)` like dcc.

Each app runs in its own server process (werkzeug, threaded); headless Chromium clicks. Time is
measured in the page, from the click to a MutationObserver seeing the callback's output; one
warm-up click of each button, then `--clicks` timed ones (`--big-clicks` from 1M rows); all
writes first, then all reads (records: each read followed by a floor click, below). "server
read" is measured in the server: from the request entering the WSGI app to the read callback
holding its argument (token checks, backend read, decoding; Dash's own request handling too).
Floors are timed in the dash-stash server: copying the stored bytes once into fresh memory
(after the clicks), and for the records store `orjson.loads` of the stored bytes, one per
request, in a "floor" callback of the same app clicked in turn with each read
(`floor_callback`: so it meets what a read meets, a fresh request and thread, the caches the
request before left, the collector, the machine's load; `orjson.loads` back to back in one
request, shown in the progress line only, ran 1.3-3x faster at 1,000 rows, and from 10,000
rows moved with the machine's load between the clicks). The same clicks time Dash's
dispatch: request in to that callback's entry, a callback with no store (its own row: at
1,000 rows it is above the whole floor). Bytes are the request and response bodies of
`/_dash-update-component` per click (warm-up included), counted by the server.
Memory is the server's peak RSS during the clicks minus its RSS before them (psutil samples
every 2 ms in a thread, and the kernel's VmHWM, reset before the clicks; the larger wins); an
untimed write and read come first, so that what a process pays once (imports, the first touch
of a library's code pages, connections) is left out for every kind alike, and then the server
collects garbage and gives the C allocator's free memory back (`malloc_trim`), so that memory
an allocator kept from the warm-up does not hide what the clicks need (nor count against a
store that returns its memory). The progress lines give the writes' and the reads' peaks
apart, and how much of the reads' highest sample is file pages mapped in (a value file read
as a mapping: the page cache's pages, which the kernel may drop and read again, where a
pickle's copy is anonymous memory). `malloc_trim` cannot empty glibc's per-thread arenas
(their top stays), so what a warm-up left there may still serve a click's allocations unseen,
a MiB or so, more under load: `--one-arena` runs every server with `MALLOC_ARENA_MAX=1`,
where the trim reaches all of it.
dcc.Store is skipped at a size where one click takes longer than `--max-click` seconds.
`--profile KIND` prints a cProfile of that kind's callback requests, writes and reads apart
(it slows them: use it to see where the time goes, not for the table). `--trace` prints, for
each kind and size, where a read's time goes in the server, step by step (`trace_reads`).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
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
    timed,
)

KINDS = {
    "dcc": "dcc.Store (records)",
    "dex": "dash-extensions Serverside",
    "stash": "dash-stash (SQLite)",
    "records": "dash-stash, records (SQLite)",
}
FRAME_KINDS = ("dex", "stash")  # the kinds that run on the mixed frame
COLUMNS = 10
BIG = 1_000_000  # from this size on: fewer clicks
FLOOR_RUNS = 7

# ---- the server side (runs in the server process) -------------------------------------------


def make_frame(rows: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(rows)
    columns = {f"f{j}": rng.random(rows) for j in range(COLUMNS - 2)}
    columns |= {f"i{j}": rng.integers(-(10**6), 10**6, rows) for j in range(2)}
    return pd.DataFrame(columns)


def make_mixed(rows: int):
    """10 columns of the kinds real tables have: floats (one with NaN), ints, strings, a
    category, naive and tz-aware datetimes, nullable ints and booleans."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(rows + 1)
    i = np.arange(rows)
    return pd.DataFrame(
        {
            "x": rng.random(rows),
            "y": np.where(i % 10 == 0, np.nan, rng.random(rows)),
            "z": rng.random(rows),
            "n": rng.integers(0, 10**6, rows),
            "name": np.array([f"user-{k}" for k in range(5_000)])[rng.integers(0, 5_000, rows)],
            "city": pd.Categorical(np.array([f"city {k}" for k in range(20)])[i % 20]),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(i, unit="s"),
            "at": pd.Timestamp("2024-01-01", tz="Europe/Paris") + pd.to_timedelta(i, unit="min"),
            "score": pd.array(np.where(i % 7 == 0, None, i % 1000), dtype="Int64"),
            "ok": pd.array(np.where(i % 5 == 0, None, i % 2 == 0), dtype="boolean"),
        }
    )


def total(df) -> str:
    return f"{float(df.select_dtypes('number').sum().sum()):.6f}"


def same(value):
    return value


def records(df) -> list[dict]:
    return df.to_dict("records")


def make_app(kind: str, rows: int, folder: str, mixed: bool = False):
    """The app of one kind; `store`, and how a callback puts the frame in and gets it out."""
    import pandas as pd

    frame = make_mixed(rows) if mixed else make_frame(rows)
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
        if kind in ("stash", "records"):
            import dash_stash

            # up to a million rows: over the default 32 MiB per value
            dash_stash.init(app, f"sqlite:///{folder}/stash.db", max_value_bytes=2**30)
            store = dash_stash.Store(id="table")
            to_store, from_store = (same, same) if kind == "stash" else (records, pd.DataFrame)
        else:
            store, to_store, from_store = dcc.Store(id="table"), records, pd.DataFrame

    children = [
        store,
        html.Button("write", id="write"),
        html.Div("-", id="wrote"),
        html.Button("read", id="read"),
        html.Div("-", id="out"),
    ]
    if kind == "records":  # see `floor_callback`
        children += [html.Button("floor", id="floor"), html.Div("-", id="floored")]
    app.layout = html.Div(children)

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
        arrived.append((time.perf_counter() - flask.request.environ["bench.t0"]) * 1000)
        if mark:
            mark("callback")
        return f"read {n}: sum {total(from_store(value))}"

    import flask

    arrived: list[float] = []
    floored: list[list[float]] = []
    mark = trace_reads(app.server) if os.environ.get("TABLES_TRACE") == "1" else None
    instrument(app.server, os.environ.get("TABLES_PROFILE") == "1", arrived, floored)
    if kind in ("stash", "records"):
        floors(app.server, to_store(frame))
    if kind == "records":
        floor_callback(app, to_store(frame), from_store, floored, mark)
    return app


def floor_callback(app, value, from_store, floored: list[list[float]], mark=None) -> None:
    """The records floor as a callback of the same app (the "floor" button): the read
    callback's twin, with no store, whose value is one `orjson.loads` of the bytes the store
    holds (in memory), timed inside it. Each click is a fresh request to the same server,
    clicked in turn with the read button, so it meets what a read meets (a new thread for
    the callback, the memory and caches the request before left, the other helpers' load),
    and the garbage collector paused as a read pauses it (decision 73; else a read would beat
    its floor by the collections it skips). `floored` gets, per click, in ms: request in to
    the callback's entry (Dash's dispatch with no store; dash-stash's hook on every request
    and its wrapper of every callback are in it too), `orjson.loads`, and its thread CPU."""
    import flask
    import orjson
    from dash import Input, Output

    from dash_stash import codec
    from dash_stash.codec.collector import paused

    stored = codec.encode(value, typed=False).data  # what the store commits (a dcc.Store's)

    @app.callback(
        Output("floored", "children"), Input("floor", "n_clicks"), prevent_initial_call=True
    )
    def floor(n):
        entered = (time.perf_counter() - flask.request.environ["bench.t0"]) * 1000
        if mark:
            mark("floor")
        start, cpu = time.perf_counter(), time.thread_time()
        with paused():  # the collector as a read decodes JSON (decision 73)
            records = orjson.loads(stored)
        done, cpu = time.perf_counter() - start, time.thread_time() - cpu
        floored.append([entered, done * 1000, cpu * 1000])
        return f"floor {n}: sum {total(from_store(records))}"


def floors(server, value) -> None:
    """Serve at /_bench/floor what no read of `value` can beat, timed in this process: copying
    its stored bytes once into fresh memory, and (for JSON) `orjson.loads` of them back to
    back in one request (`loads_back_to_back_ms`; shown, not the floor the table uses: each
    run finds the memory and caches the run before left warm, which a read never does; the
    records floor is `floor_callback`'s, one run per request)."""
    import numpy as np
    import orjson

    from dash_stash import codec

    def measure():
        stored = codec.encode(value)
        raw = np.frombuffer(stored.data, np.uint8)
        result = {
            "bytes": len(raw),
            "copy_ms": median([timed(raw.copy) * 1000 for _ in range(FLOOR_RUNS)]),
        }
        if stored.codec == "json":  # 3 runs at least, up to 15 while they take under 2 s
            loads: list[float] = []
            while len(loads) < 3 or (len(loads) < 15 and sum(loads) < 2000):
                loads.append(timed(lambda: orjson.loads(stored.data)) * 1000)
            result["loads_back_to_back_ms"] = median(loads)
        return result

    server.add_url_rule("/_bench/floor", "bench_floor", measure)


def trace_reads(server):
    """Checkpoints along each callback request, served at /_bench/trace (`--trace`): ms since
    the WSGI entry, thread CPU ms and page faults at the Flask hooks, Dash's view (after
    asgiref's new thread and event loop, with dash[async]), and the entry and exit of our
    steps (the wrapper's checks, the session cookie and token HMACs, the backend read and its
    connection, the decode), up to the read callback (`mark("callback")`); and the collector's
    runs inside the request (`gc.callbacks`). Wrapping costs a few microseconds a step."""
    import contextvars
    import gc
    import inspect
    import resource

    from dash_stash import tokens
    from dash_stash.adapter import callbacks, integration, web
    from dash_stash.backends import sqlite
    from dash_stash.engine import store

    traces: list[dict] = []
    current: contextvars.ContextVar[dict | None] = contextvars.ContextVar("trace", default=None)

    def mark(label: str) -> None:
        t = current.get()
        if t is not None:
            ms = (time.perf_counter() - t["t0"]) * 1000
            faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
            cpu = time.thread_time() * 1000
            t["marks"].append((label, ms, threading.get_ident(), cpu, faults))

    def wrap(owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapped(*a, **kw):
            mark(f"{label}>")
            try:
                return original(*a, **kw)
            finally:
                mark(f"{label}<")

        setattr(owner, name, wrapped)

    def on_gc(phase, info):
        t = current.get()
        if t is None:
            return
        now = time.perf_counter()
        if phase == "start":
            t["gc_start"] = now
        else:
            t["gc"].append((info["generation"], round((now - t.pop("gc_start")) * 1000, 3)))

    gc.callbacks.append(on_gc)
    wsgi = server.wsgi_app

    def traced(environ, start_response):
        if environ.get("PATH_INFO") != "/_dash-update-component":
            return wsgi(environ, start_response)
        t = {"t0": environ.get("bench.t0", time.perf_counter()), "marks": [], "gc": []}
        reset = current.set(t)
        mark("wsgi")
        try:
            return wsgi(environ, start_response)
        finally:
            t.pop("t0")
            traces.append(t)
            current.reset(reset)

    server.wsgi_app = traced
    server.before_request_funcs.setdefault(None, []).insert(0, lambda: mark("flask"))
    server.before_request_funcs[None].append(lambda: mark("hooks"))
    view = server.view_functions["/_dash-update-component"]

    if inspect.iscoroutinefunction(view):

        async def viewed(*a, **kw):
            mark("view")
            return await view(*a, **kw)
    else:

        def viewed(*a, **kw):
            mark("view")
            return view(*a, **kw)

    server.view_functions["/_dash-update-component"] = viewed
    wrap(callbacks, "_check_declared", "wrapper")
    wrap(integration.Stash, "locate", "locate")
    wrap(sqlite.SQLiteBackend, "read", "backend")
    wrap(store.StashEngine, "decode", "decode")
    wrap(store.StashEngine, "read", "engine")
    wrap(tokens.Signer, "verify", "verify")
    wrap(tokens.Signer, "session_from_cookie", "cookie")
    wrap(web.Web, "begin", "begin")
    wrap(callbacks.CallbackWiring, "update", "update")
    wrap(sqlite.SQLiteBackend, "_conn", "conn")
    wrap(callbacks.CallbackCall, "remember", "remember")
    server.add_url_rule("/_bench/trace", "bench_trace", lambda: {"traces": traces})
    return mark


def instrument(
    server, profile: bool, arrived: list[float], floored: list[list[float]] | None = None
) -> None:
    """Count the bodies of callback requests and responses (served as JSON at /_bench/bytes,
    with `arrived`: ms from each read request in to its callback holding the value, and
    `floored`: see `floor_callback`); with `profile`, cProfile each callback request (the
    stats so far at /_bench/profile)."""
    counts = {
        "in": 0,
        "out": 0,
        "calls": 0,
        "arrived": arrived,
        "floored": [] if floored is None else floored,
    }
    wsgi = server.wsgi_app

    def counted(body):
        for chunk in body:
            counts["out"] += len(chunk)
            yield chunk

    def counting(environ, start_response):
        if environ.get("PATH_INFO") != "/_dash-update-component":
            return wsgi(environ, start_response)
        environ["bench.t0"] = time.perf_counter()
        counts["calls"] += 1
        counts["in"] += int(environ.get("CONTENT_LENGTH") or 0)
        return counted(wsgi(environ, start_response))

    server.wsgi_app = counting
    server.add_url_rule("/_bench/bytes", "bench_bytes", lambda: {**counts, "gc": collections()})
    server.add_url_rule("/_bench/trim", "bench_trim", trim)
    if profile:
        profile_callbacks(server)


def collections() -> list[int]:
    """How many times the cyclic collector ran so far in this process, per generation."""
    import gc

    return [generation["collections"] for generation in gc.get_stats()]


def trim() -> dict:
    """Collect garbage and give the C allocator's free memory back to the system."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # glibc only
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return {}


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
    """The peak RSS of a process from now on: psutil samples in a thread, plus VmHWM.

    `file` is the part of the highest sample that is file pages mapped in (psutil's `shared`:
    RssFile + RssShmem, above the baseline's), so that a store reading a value file by
    mapping it shows what of its peak is the page cache's; the peak itself counts them."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.pid = pid
        self.process = psutil.Process(pid)
        info = self.process.memory_info()
        self.baseline, self.baseline_file = info.rss, info.shared
        self.peak, self.file = self.baseline, 0
        _reset_hwm(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            info = self.process.memory_info()
            if info.rss > self.peak:
                self.peak, self.file = info.rss, info.shared - self.baseline_file

    def split(self) -> int:
        """Peak minus baseline so far, in bytes; the peak starts again from now (the
        baseline stays), so that writes and reads each get their own."""
        peak = max(self.peak, _hwm(self.pid)) - self.baseline
        _reset_hwm(self.pid)
        self.peak, self.file = self.process.memory_info().rss, 0
        return peak

    def stop(self) -> int:
        """Peak minus baseline since the last `split`, in bytes."""
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


def bench_json(url: str, what: str) -> dict:
    with urllib.request.urlopen(f"{url}/_bench/{what}", timeout=120) as response:
        return json.load(response)


def wire_bytes(url: str) -> int:
    counts = bench_json(url, "bytes")
    return counts["in"] + counts["out"]


class TooSlow(Exception):
    """A click took longer than the limit."""


def click(page, button: str, output: str, limit: float) -> float:
    """Click `button` and wait for `output` to change: ms in the page."""
    try:
        return page.evaluate(CLICK, [button, output, int(limit * 1000)])
    except Exception as exc:
        if "no output after" in str(exc):
            raise TooSlow from None
        raise


def clicks(page, url: str, button: str, output: str, n: int, limit: float, twin=None):
    """One warm-up click, then `n` timed ones: (times in ms, mean bytes per click, last text).
    `twin`: a (button, output) clicked after each of them (the records floor, see
    `floor_callback`), so that the two alternate and meet the same machine."""
    times, sizes = [], []
    for i in range(n + 1):
        before = wire_bytes(url)
        ms = click(page, button, output, limit)
        sizes.append(wire_bytes(url) - before)
        if twin:
            click(page, *twin, limit)
        if i:
            times.append(ms)
    return times, sum(sizes) / len(sizes), page.locator(f"#{output}").text_content()


def measure(
    browser,
    case: Case,
    kind: str,
    folder: str,
    limit: float,
    profile: bool,
    one_arena: bool = False,
    trace: bool = False,
) -> dict:
    port = free_port()
    env = {"TABLES_PROFILE": "1" if profile else "0", "TABLES_TRACE": "1" if trace else "0"}
    if one_arena:  # glibc: every thread allocates from the main arena, which malloc_trim empties
        env["MALLOC_ARENA_MAX"] = "1"
    server = ProcessServer(
        [sys.executable, __file__, "--serve", kind, str(case.rows), str(port), folder, case.frame],
        port,
        env=env,
    )
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(600_000)
        page.goto(server.url)
        page.wait_for_selector("#out")
        twin = ("floor", "floored") if kind == "records" else None
        for button, output in (("write", "wrote"), ("read", "out"), *([twin] if twin else [])):
            click(page, button, output, limit)  # first-use costs
        bench_json(server.url, "trim")
        memory = PeakRss(server.proc.pid)
        title = f"{KINDS[kind]}, {case.label}"
        try:
            write_ms, write_bytes, _ = clicks(
                page, server.url, "write", "wrote", case.clicks, limit
            )
            show_profile(server.url, f"{title}, writes", profile)
            write_peak = memory.split()
            before = bench_json(server.url, "bytes")["gc"]
            read_ms, read_bytes, text = clicks(
                page, server.url, "read", "out", case.clicks, limit, twin
            )
            show_profile(server.url, f"{title}, reads", profile)
        finally:
            read_peak = memory.stop()
            read_file = memory.file
        counts = bench_json(server.url, "bytes")
        arrived = counts["arrived"][-case.clicks :]  # the timed ones
        read_gc = [after - was for after, was in zip(counts["gc"], before, strict=True)]
        floor = bench_json(server.url, "floor") if kind in ("stash", "records") else {}
        if twin:
            floored = counts["floored"][-case.clicks :]
            floor["dispatch_ms"] = median([d for d, _, _ in floored])
            floor["loads_ms"] = median([ms for _, ms, _ in floored])
            floor["loads_cpu_ms"] = median([cpu for _, _, cpu in floored])
        show_trace(server.url, case.clicks, trace)
        return {
            "write_ms": write_ms,
            "write_bytes": write_bytes,
            "read_ms": read_ms,
            "read_bytes": read_bytes,
            "arrived_ms": arrived,
            "peak": max(write_peak, read_peak),
            "write_peak": write_peak,
            "read_peak": read_peak,
            "read_file": read_file,
            "text": text,
            "floor": floor,
            "read_gc": read_gc,
        }
    finally:
        context.close()
        server.stop()


def show_trace(url: str, n: int, trace: bool) -> None:
    """The last `n` read requests' checkpoints (see `trace_reads`), and the records floor's
    (`floor_callback`): each step's median and largest ms; CPU ms and page faults where both
    ends ran in one thread; the collector's runs."""
    if not trace:
        return
    traces = bench_json(url, "trace")["traces"]
    for last, what in (("callback", "a read"), ("floor", "a floor request")):
        chosen = [t for t in traces if t["marks"][-1][0] == last][-n:]
        if chosen:
            print(trace_table(chosen, what))


def trace_table(traces: list[dict], what: str) -> str:
    steps: dict[str, list[tuple[float, float | None, int | None]]] = {}
    for t in traces:
        for (a, ms_a, th_a, cpu_a, pf_a), (b, ms_b, th_b, cpu_b, pf_b) in itertools.pairwise(
            t["marks"]
        ):
            same = th_a == th_b
            steps.setdefault(f"{a} -> {b}", []).append(
                (ms_b - ms_a, cpu_b - cpu_a if same else None, pf_b - pf_a if same else None)
            )
    lines = []
    for step, spans in steps.items():
        cpu = [c for _, c, _ in spans if c is not None]
        faults = [f for _, _, f in spans if f is not None]
        lines.append(
            (
                step,
                f"{median([ms for ms, _, _ in spans]):.3f}",
                f"{max(ms for ms, _, _ in spans):.3f}",
                f"{median(cpu):.3f}" if cpu else "-",
                f"{median(faults):.0f}" if faults else "-",
            )
        )
    out = [table([f"step of {what}", "median ms", "max ms", "CPU ms", "page faults"], lines)]
    collections = [g for t in traces for g in t["gc"]]
    for generation in range(3):
        spent = [ms for g, ms in collections if g == generation]
        out.append(
            f"  gc generation {generation}: {len(spent) / len(traces):.1f} collections per "
            f"request, {sum(spent):.1f} ms in all, largest {max(spent, default=0):.1f} ms"
        )
    return "\n".join(out)


def show_profile(url: str, title: str, profile: bool) -> None:
    if profile:
        with urllib.request.urlopen(f"{url}/_bench/profile", timeout=60) as response:
            print(f"\n---- cProfile: {title} (all clicks) ----\n{response.read().decode()}")


class Case:
    """One table size and shape: rows x 10 numeric columns, or the mixed frame."""

    def __init__(self, rows: int, frame: str, clicks: int) -> None:
        self.rows, self.frame, self.clicks = rows, frame, clicks
        self.label = f"{rows:,}" + (" mixed" if frame == "mixed" else "")


HEADERS = [
    "rows",
    "store",
    "write ms",
    "read ms",
    "server read ms",
    "vs dex: write / read / server read",
    "server read / floor",
    "bytes/write",
    "bytes/read",
    "server peak MiB",
]


def row(case: Case, kind: str, r: dict, dex: dict | None) -> tuple:
    write, read, arrived = (median(r[k]) for k in ("write_ms", "read_ms", "arrived_ms"))
    versus = "-"
    if dex and kind in ("dcc", "stash"):  # the records store is held to its floor instead
        versus = " / ".join(
            f"{median(r[k]) / median(dex[k]):.2f}x" for k in ("write_ms", "read_ms", "arrived_ms")
        )
    floor = r["floor"].get("loads_ms" if kind == "records" else "copy_ms")
    return (
        case.label,
        KINDS[kind],
        f"{write:,.1f}",
        f"{read:,.1f}",
        f"{arrived:,.1f}",
        versus,
        f"{arrived / floor:.2f}x" if floor else "-",
        f"{r['write_bytes']:,.0f}",
        f"{r['read_bytes']:,.0f}",
        f"{r['peak'] / 2**20:,.0f}",
    )


def floor_rows(case: Case, kind: str, r: dict) -> list[tuple]:
    """The floors measured in the dash-stash server, as rows of their own."""
    floor, lines = r["floor"], []
    if kind == "stash":
        what, ms = (
            f"floor: copy the {floor['bytes'] / 2**20:,.1f} MiB stored once",
            floor["copy_ms"],
        )
        lines.append((case.label, what, "-", "-", f"{ms:,.1f}", "-", "1.00x", "-", "-", "-"))
    if kind == "records":
        loads, dispatch = floor["loads_ms"], floor["dispatch_ms"]
        what = f"floor: orjson.loads of the {floor['bytes'] / 2**20:,.1f} MiB stored, one a request"
        lines.append((case.label, what, "-", "-", f"{loads:,.1f}", "-", "1.00x", "-", "-", "-"))
        what = "Dash, a callback with no store: request in to its entry"
        ratio = f"{dispatch / loads:.2f}x"
        lines.append((case.label, what, "-", "-", f"{dispatch:,.1f}", "-", ratio, "-", "-", "-"))
    return lines


def plot(results: dict, cases: list[Case], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numeric = [c for c in cases if c.frame == "numeric"]
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.5))
    for ax in axes[1:3]:
        ax.sharey(axes[0])  # the three times on one scale
    for ax, what, title in (
        (axes[0], "write_ms", "write: click to output"),
        (axes[1], "read_ms", "read: click to output"),
        (axes[2], "arrived_ms", "read: request in to callback holding it"),
    ):
        for kind, label in KINDS.items():
            done = [c for c in numeric if (kind, c.label) in results]
            values = [median(results[kind, c.label][what]) for c in done]
            ax.plot([c.rows for c in done], values, marker="o", label=label)
        if what == "arrived_ms":
            for kind, key, label in (
                ("stash", "copy_ms", "floor: copy stored bytes once"),
                ("records", "loads_ms", "floor: orjson.loads, one a request"),
                ("records", "dispatch_ms", "Dash: request in to a callback with no store"),
            ):
                done = [c for c in numeric if (kind, c.label) in results]
                values = [results[kind, c.label]["floor"][key] for c in done]
                ax.plot([c.rows for c in done], values, linestyle="--", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows (x 10 numeric columns)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    memory = axes[3]
    for kind, label in KINDS.items():
        done = [c for c in numeric if (kind, c.label) in results]
        values = [max(results[kind, c.label]["peak"] / 2**20, 0.1) for c in done]
        memory.plot([c.rows for c in done], values, marker="o", label=label)
    memory.set_xscale("log")
    memory.set_yscale("log")
    memory.set_xlabel("rows (x 10 numeric columns)")
    memory.set_ylabel("MiB (0.1 and less drawn at 0.1)")
    memory.set_title("server peak memory during the clicks")
    memory.grid(True, which="both", alpha=0.3)
    for ax in axes[:3]:
        ax.set_ylabel("median ms")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def codec_table(sizes: list[int], mixed_sizes: list[int]) -> str:
    """In this process, no server: encode and decode times and sizes of each frame with each
    compression setting, and pickle's for scale (decode as from a file read: `own=True`)."""
    import pickle

    from dash_stash import codec
    from dash_stash.codec import Encoded

    def ms(func, runs: int = 5) -> float:
        return median([timed(func) for _ in range(runs)]) * 1000

    lines = []
    shapes = [(n, "numeric", make_frame) for n in sizes] + [
        (n, "mixed", make_mixed) for n in mixed_sizes
    ]
    for rows, shape, make in shapes:
        df = make(rows)
        label = f"{rows:,}" + (" mixed" if shape == "mixed" else "")
        for compression in (None, "lz4", "zstd"):
            setting = codec.Compression(compression)
            encoded = codec.encode(df, compression=setting)
            fresh = [memoryview(bytearray(encoded.data)) for _ in range(5)]
            encode_ms = ms(lambda df=df, s=setting: codec.encode(df, compression=s))
            decode_ms = ms(
                lambda e=encoded, f=fresh: codec.decode(Encoded(e.codec, f.pop()), own=True)
            )
            size = f"{encoded.size / 2**20:,.1f}"
            lines.append((label, str(compression), size, f"{encode_ms:,.1f}", f"{decode_ms:,.1f}"))
        raw = pickle.dumps(df, protocol=5)
        dumps_ms = ms(lambda df=df: pickle.dumps(df, protocol=5))
        loads_ms = ms(lambda raw=raw: pickle.loads(raw))
        size = f"{len(raw) / 2**20:,.1f}"
        lines.append((label, "pickle (reference)", size, f"{dumps_ms:,.1f}", f"{loads_ms:,.1f}"))
    return table(["rows", "compression", "MiB stored", "encode ms", "decode ms"], lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--mixed-rows", type=int, nargs="*", default=[1_000_000], help="sizes of the mixed frame"
    )
    parser.add_argument("--clicks", type=int, default=7, help="timed clicks per button")
    parser.add_argument("--big-clicks", type=int, default=3, help="the same from 1M rows")
    parser.add_argument(
        "--max-click",
        type=float,
        default=60.0,
        help="skip dcc.Store at a size where a click takes longer (s)",
    )
    parser.add_argument(
        "--dcc-max-rows", type=int, default=100_000, help="dcc.Store only up to this size"
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
        "--trace",
        action="store_true",
        help="print where each read's time goes in the server (checkpoints; slows it a bit)",
    )
    parser.add_argument(
        "--plot",
        default=str(ROOT / "docs" / "img" / "tables.png"),
        help='where to save the plot ("" for none)',
    )
    parser.add_argument(
        "--serve", nargs=5, metavar=("KIND", "ROWS", "PORT", "DIR", "FRAME"), help=argparse.SUPPRESS
    )  # internal: run one app server
    parser.add_argument(
        "--codec", action="store_true", help="only the in-process codec table (compression)"
    )
    parser.add_argument(
        "--one-arena",
        action="store_true",
        help="run every server with MALLOC_ARENA_MAX=1 (see the docstring: memory)",
    )
    args = parser.parse_args()
    if args.codec:
        print(machine(), flush=True)
        print(codec_table(args.rows, args.mixed_rows))
        return
    if args.serve:
        kind, rows, port, folder, frame = args.serve
        serve_forever(make_app(kind, int(rows), folder, frame == "mixed"), int(port))
        return

    from playwright.sync_api import sync_playwright

    print(machine(), flush=True)
    print(f"load average before: {os.getloadavg()}", flush=True)
    started = time.monotonic()
    cases = [Case(n, "numeric", args.big_clicks if n >= BIG else args.clicks) for n in args.rows]
    cases += [
        Case(n, "mixed", args.big_clicks if n >= BIG else args.clicks) for n in args.mixed_rows
    ]
    results: dict[tuple[str, str], dict] = {}
    lines = []
    with tempfile.TemporaryDirectory(prefix="dash-stash-tables-") as tmp, sync_playwright() as pw:
        browser = launch_chromium(pw)
        for case in cases:
            for kind in args.kinds:
                if case.frame == "mixed" and kind not in FRAME_KINDS:
                    continue
                if kind == "dcc" and case.rows > args.dcc_max_rows:
                    continue
                label = KINDS[kind]
                folder = Path(tmp) / f"{kind}-{case.rows}-{case.frame}"
                folder.mkdir()
                limit = args.max_click if kind == "dcc" else 600.0
                try:
                    r = results[kind, case.label] = measure(
                        browser,
                        case,
                        kind,
                        str(folder),
                        limit,
                        kind in args.profile,
                        args.one_arena,
                        args.trace,
                    )
                except TooSlow:
                    lines.append(
                        (case.label, label, f"skipped: > {args.max_click:.0f} s/click", *["-"] * 7)
                    )
                    print(
                        f"  {case.label}, {label}: skipped, over {args.max_click:.0f} s a click",
                        flush=True,
                    )
                    continue
                print(
                    f"  {case.label}, {label}: write "
                    f"{', '.join(f'{t:.0f}' for t in r['write_ms'])} ms, read "
                    f"{', '.join(f'{t:.0f}' for t in r['read_ms'])} ms (server "
                    f"{', '.join(f'{t:.1f}' for t in r['arrived_ms'])} ms), {r['text']!r}, "
                    f"peak +{r['peak'] / 2**20:,.1f} MiB (writes +{r['write_peak'] / 2**20:,.1f}, "
                    f"reads +{r['read_peak'] / 2**20:,.1f}, of it file pages "
                    f"+{r['read_file'] / 2**20:,.1f}), floor {r['floor']}, collections "
                    f"in the read phase (generations 0/1/2) {'/'.join(map(str, r['read_gc']))} "
                    f"({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
            for kind in args.kinds:
                if (kind, case.label) in results:
                    r = results[kind, case.label]
                    lines.append(row(case, kind, r, results.get(("dex", case.label))))
                    lines += floor_rows(case, kind, r)
            sums = {
                results[k, case.label]["text"].split(": ", 1)[1]
                for k in KINDS
                if (k, case.label) in results
            }
            if len(sums) > 1:
                print(f"  WARNING: the stores disagree on the sum at {case.label} rows: {sums}")
        browser.close()
    print()
    print(table(HEADERS, lines))
    print(f"\ntotal {time.monotonic() - started:.0f} s; load average after: {os.getloadavg()}")
    if args.plot:
        plot(results, cases, Path(args.plot))
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
