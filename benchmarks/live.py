"""Live updates (issue 13): how soon a commit in one browser shows in another, and what open
pages cost the callbacks of everyone else.

1. Latency: two headless Chromium contexts (two users) on a shared board. User A clicks
   "add"; the time until A's own list shows the item (its callback's round trip) and until
   B's list shows it (A's commit, the change feed, B's stream, B's `show` callback), over
   `--samples` clicks, median and p95. Flask (tests/apps/live_app.py) on SQLite: one gunicorn
   host, 4 workers x 4 threads, A and B on it (any worker may serve either); on Redis: two
   gunicorn hosts (2 workers x 4 threads each), A on one and B on the other. FastAPI under
   uvicorn and Quart under hypercorn (tests/apps/board_servers_app.py), 2 workers each on
   SQLite: held streams served natively async.
2. A page's own store written elsewhere: a commit from another process (the benchmark's
   own) to a page's `session` store, until the page shows it (its dependent callback ran),
   on `gunicorn -w 4 --threads 4` (tests/apps/follow_app.py): for a page idle `--idle`
   seconds before each commit (it asks at growing intervals, at most 8 s apart) and for a
   page whose background job runs (hot: it holds a stream).
3. Open pages: the median and p95 time of a callback (the board's `add`, over HTTP) with no
   other page open, then with `--pages` open pages that follow their stores as
   dash_stash.js does (`Pages`), idle on a session store of their own, then all on the
   board (every commit then tells all of them), after `--settle` seconds; with the streams
   held and the asks per second they made. On SQLite: gunicorn 4 workers x 4 threads (the
   default deployment) and x 64 threads, and uvicorn and hypercorn with 1 worker (every
   page on one event loop; uvicorn's pool has 40 threads).

    .venv/bin/python benchmarks/live.py                 # SQLite only
    .venv/bin/python benchmarks/live.py --redis         # also two hosts on a redis-server
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from _common import ROOT, ProcessServer, free_port, launch_chromium, machine, table, wait_for_port

sys.path.insert(0, str(ROOT))
from tests.support.dash_client import DashClient  # noqa: E402

APP = "live_app:server"
BOARD = "board_servers_app:create_server"  # the same board on FastAPI or Quart


def gunicorn(backend: str, workers: int, threads: int) -> ProcessServer:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads)]
    argv += ["-b", f"127.0.0.1:{port}", "--keep-alive", "0", "--log-level", "warning", APP]
    env = {"PYTHONPATH": str(ROOT / "tests" / "apps"), "LIVE_APP_BACKEND": backend}
    return ProcessServer(argv, port, env)


def asgi(server: str, backend: str, workers: int) -> ProcessServer:
    """The board on Dash's FastAPI backend under uvicorn, or its Quart one under hypercorn."""
    port = free_port()
    if server == "fastapi":
        argv = ["uvicorn", "--factory", BOARD, "--port", str(port), "--workers", str(workers)]
        argv += ["--log-level", "warning"]
    else:
        argv = ["hypercorn", "-b", f"127.0.0.1:{port}", "-w", str(workers), f"{BOARD}()"]
    env = {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "apps"), str(ROOT)]),
        "DASH_SERVER": server,
        "DASH_STASH_BACKEND": backend,
    }
    return ProcessServer([sys.executable, "-m", *argv], port, env)


# What differs between the two boards: the text input each `add` reads.
WHO = {APP: "who", BOARD: "note"}


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


# In B: the time (epoch ms, comparable across pages of one machine) the list reaches n items.
WAIT_FOR = """(n) => new Promise((resolve) => {
  const list = document.getElementById("items");
  const now = () => performance.timeOrigin + performance.now();
  if (list.children.length >= n) return resolve(now());
  const observer = new MutationObserver(() => {
    if (list.children.length >= n) { observer.disconnect(); resolve(now()); }
  });
  observer.observe(list, {childList: true});
})"""
# In B, before A's click: window.__shown becomes that time.
WATCH = (
    "(n) => { window.__shown = null; (" + WAIT_FOR + ")(n).then((t) => { window.__shown = t; }); }"
)
CLICK_AT = """() => { const t = performance.timeOrigin + performance.now();
  document.getElementById("add").click(); return t; }"""


def latency(
    browser, url_a: str, url_b: str, samples: int, app: str = APP
) -> tuple[list[float], list[float]]:
    """(A's own list, B's list) ms after A's click, per click."""
    pages = []
    for url, who in ((url_a, "a"), (url_b, "b")):
        page = browser.new_context().new_page()
        page.goto(url)
        page.fill(f"#{WHO[app]}", who)
        page.wait_for_selector("#items", state="attached")
        pages.append(page)
    a, b = pages
    time.sleep(1.5)  # both streams open
    own, other = [], []
    for n in range(1, samples + 1):
        b.evaluate(WATCH, n)  # B starts watching before the click
        clicked = a.evaluate(CLICK_AT)
        at_a = a.evaluate(WAIT_FOR, n)
        b.wait_for_function("window.__shown !== null", polling=20, timeout=30_000)
        at_b = b.evaluate("window.__shown")
        own.append(at_a - clicked)
        other.append(at_b - clicked)
        time.sleep(0.2)  # the next click after this one has settled everywhere
    for page in pages:
        page.context.close()
    return own, other


class Pages:
    """`n` open pages (one browser, i.e. cookie jar, each) following `store` as
    dash_stash.js does: post the token, read the answer (held or not), take a fresh
    token from an event, ask again after the answer's `retry`, counting empty asks in a
    row (`quiet`). A thread per page, started over one second (pages do not open at once)."""

    def __init__(self, url: str, n: int, store: str) -> None:
        self.url, self.store = url, store
        self.stop = threading.Event()
        self.asks = 0
        self.held = 0
        self.lock = threading.Lock()
        self.open: set[requests.Response] = set()
        self.threads = [threading.Thread(target=self._page, daemon=True) for _ in range(n)]
        for t in self.threads:
            t.start()
            time.sleep(1.0 / n)

    def _page(self) -> None:
        c = DashClient(self.url)
        token, quiet = c.prop(self.store, "data"), 0
        while not self.stop.is_set():
            body = {"stores": [{"id": self.store, "token": token}], "hot": False, "quiet": quiet}
            retry, changed, held = 1.0, False, False
            try:
                r = c.http.post(self.url + "/_dash-stash/live", json=body, stream=True, timeout=120)
                with self.lock:
                    self.asks += 1
                    self.open.add(r)
                for line in r.iter_lines():
                    if line.startswith(b"retry: "):
                        retry = int(line[7:]) / 1000
                        held = retry < 1.0  # a held stream says: ask again at once
                        with self.lock:
                            self.held += held
                    elif line.startswith(b"data: "):
                        changed = True
                        token = json.loads(line[6:])["stores"][0]["token"]
            except Exception:  # closed at the end of the run
                return
            finally:
                with self.lock:
                    self.held -= held
            self.open.discard(r)
            quiet = 0 if changed else quiet + 1
            self.stop.wait(retry)

    def rate(self, seconds: float) -> float:
        """Asks per second the pages make now (counted over `seconds`)."""
        before = self.asks
        time.sleep(seconds)
        return (self.asks - before) / seconds

    def close(self) -> None:
        """The pages go away: their connections close at once, even mid-read."""
        self.stop.set()
        with self.lock:
            for r in list(self.open):
                # the socket under the response (the connection gives it up at once when
                # the server says `Connection: close`, as gunicorn --keep-alive 0 does)
                sock = getattr(getattr(r.raw._fp, "fp", None), "raw", None)
                sock = getattr(sock, "_sock", None)
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
                r.close()


def callback_times(url: str, count: int, app: str = APP) -> list[float]:
    """ms per `add` callback, one after another, from a client of its own."""
    c = DashClient(url)
    cb = c.callback("board.")
    token = c.prop("board", "data")
    times = []
    for n in range(1, count + 1):
        start = time.perf_counter()
        values = {("add", "n_clicks"): n, (WHO[app], "value"): "bench", ("board", "data"): token}
        r = c.call(cb, values)
        r.raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return times


def open_pages_times(
    url: str, server: str, app: str, args: argparse.Namespace
) -> list[tuple[str, str, str, str, list[float]]]:
    """A callback's times with no other page open, `args.pages` idle pages, then as many
    pages watching the store the callback writes: (server, pages, held, asks/s, times)."""
    callback_times(url, 10, app)  # warm up every worker's connections
    results = [(server, "no other page open", "", "", callback_times(url, args.calls, app))]
    for store, what in (("mine", "idle (own session store)"), ("board", "on the board written")):
        pages = Pages(url, args.pages, store)
        time.sleep(args.settle)  # idle pages back off to their longest wait
        rate = pages.rate(4.0)
        held = pages.held
        times = callback_times(url, args.calls, app)
        pages.close()
        results.append((server, f"{args.pages} pages {what}", str(held), f"{rate:.0f}", times))
    return results


# In a page: the time (epoch ms) `#mine-out` shows `v`; set in window.__shown.
WATCH_TEXT = """(v) => { window.__shown = null;
  const el = document.getElementById("mine-out");
  const now = () => performance.timeOrigin + performance.now();
  if (el.textContent === v) { window.__shown = now(); return; }
  const observer = new MutationObserver(() => {
    if (el.textContent === v) { observer.disconnect(); window.__shown = now(); }
  });
  observer.observe(el, {childList: true, subtree: true, characterData: true});
}"""


def own_page(browser, folder: Path, samples: int, idle: float) -> list[tuple[str, list[float]]]:
    """ms from a commit in another process (this one) to a session store, to its page
    showing it (the store's dependent callback ran): on gunicorn 4 x 4 on SQLite, for a page
    idle for `idle` seconds before each commit, and for a page whose background job runs."""
    backend = f"sqlite:///{folder / 'own.db'}"
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-w", "4", "--threads", "4"]
    argv += ["-b", f"127.0.0.1:{port}", "--keep-alive", "0", "--log-level", "warning"]
    env = {
        "PYTHONPATH": str(ROOT / "tests" / "apps"),
        "FOLLOW_APP_BACKEND": backend,
        "FOLLOW_APP_WORK": str(5 + samples),  # the job runs through every sample
        "FOLLOW_APP_CACHE": str(folder / "jobs"),
    }
    server = ProcessServer([*argv, "follow_app:server"], port, env)
    sys.path.insert(0, str(ROOT / "tests" / "apps"))
    import follow_app

    from dash_stash.engine import Replace

    stash = follow_app.make_app(backend)._dash_stash
    rows = []
    try:
        for clicks, name in ((1, f"page idle {idle:.0f} s before"), (2, "page's job running")):
            page = browser.new_context().new_page()
            page.goto(server.url)
            for n in range(clicks):
                page.click("#mine-add")
                page.wait_for_function(
                    f"document.getElementById('mine-out').textContent === '{n + 1}'"
                )
            (key,) = [k for k in stash.keys("mine") if stash.engine.read(k)[0] == clicks]
            if clicks == 2:
                page.click("#work")
                time.sleep(1.5)  # the page asks again, hot: it holds a stream now
            times = []
            for n in range(samples):
                value = 1000 * clicks + n
                time.sleep(idle if clicks == 1 else 0.3)
                page.evaluate(WATCH_TEXT, str(value))
                committed = time.time() * 1000
                stash.engine.commit(key, Replace(value), ttl=3600)
                page.wait_for_function("window.__shown !== null", polling=20, timeout=30_000)
                times.append(page.evaluate("window.__shown") - committed)
            page.context.close()
            rows.append((name, times))
    finally:
        server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--settle", type=float, default=20.0, help="s before timing idle pages")
    parser.add_argument("--own-samples", type=int, default=8)
    parser.add_argument("--idle", type=float, default=16.0, help="s a page idles per sample")
    parser.add_argument("--redis", action="store_true", help="also two hosts on redis-server")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="dash-stash-live-"))
    rows = []
    redis_proc = None
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            server = gunicorn(f"sqlite:///{folder / 'lat.db'}", 4, 4)
            try:
                own, other = latency(browser, server.url, server.url, args.samples)
            finally:
                server.stop()
            rows.append(("Flask, SQLite, gunicorn 1 host x 4 workers", own, other))
            own_rows = own_page(browser, folder, args.own_samples, args.idle)
            for kind, name in (
                ("fastapi", "FastAPI, SQLite, uvicorn"),
                ("quart", "Quart, SQLite, hypercorn"),
            ):
                server = asgi(kind, f"sqlite:///{folder / (kind + '-lat.db')}", 2)
                try:
                    own, other = latency(browser, server.url, server.url, args.samples, BOARD)
                finally:
                    server.stop()
                rows.append((f"{name} 1 host x 2 workers", own, other))
            if args.redis:
                port = free_port()
                redis_proc = subprocess.Popen(
                    [shutil.which("redis-server") or "redis-server", "--port", str(port)]
                    + ["--save", "", "--appendonly", "no"],
                    stdout=subprocess.DEVNULL,
                )
                wait_for_port(port)
                url = f"redis://127.0.0.1:{port}/0"
                hosts = [gunicorn(url, 2, 4) for _ in range(2)]
                try:
                    own, other = latency(browser, hosts[0].url, hosts[1].url, args.samples)
                finally:
                    for h in hosts:
                        h.stop()
                rows.append(("Flask, Redis, gunicorn 2 hosts x 2 workers", own, other))
            browser.close()

        print(f"\n{machine()}\n")
        print(f"commit in browser A -> shown in browser B, {args.samples} clicks (ms)\n")
        print(
            table(
                ["server, backend", "A's own output median", "A p95", "B shows it median", "B p95"],
                [
                    (
                        name,
                        f"{statistics.median(own):.0f}",
                        f"{p95(own):.0f}",
                        f"{statistics.median(other):.0f}",
                        f"{p95(other):.0f}",
                    )
                    for name, own, other in rows
                ],
            )
        )

        print("\na commit in another process to a page's session store -> shown (ms)\n")
        print(
            table(
                ["gunicorn 4 x 4, SQLite", "median", "p95", "max"],
                [
                    (name, f"{statistics.median(t):.0f}", f"{p95(t):.0f}", f"{max(t):.0f}")
                    for name, t in own_rows
                ],
            )
        )

        results = []
        for name, start, app in (
            ("gunicorn 4 x 4 threads", lambda db: gunicorn(db, 4, 4), APP),
            ("gunicorn 4 x 64 threads", lambda db: gunicorn(db, 4, 64), APP),
            ("uvicorn 1 worker", lambda db: asgi("fastapi", db, 1), BOARD),
            ("hypercorn 1 worker", lambda db: asgi("quart", db, 1), BOARD),
        ):
            server = start(f"sqlite:///{folder / (name.split()[0] + '-idle.db')}")
            try:
                results += open_pages_times(server.url, name, app, args)
            finally:
                server.stop()
        print(f"\na callback's time over HTTP, {args.calls} calls (ms), on SQLite\n")
        print(
            table(
                ["server", "open pages", "streams held", "asks/s", "median", "p95"],
                [
                    (server, pages, held, rate, f"{statistics.median(t):.1f}", f"{p95(t):.1f}")
                    for server, pages, held, rate, t in results
                ],
            )
        )
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
