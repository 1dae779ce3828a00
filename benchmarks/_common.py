"""Helpers shared by the benchmark scripts: servers, the browser, timing and tables."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("DASH_STASH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server process exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def serve_forever(app: Any, port: int) -> None:
    """Serve a Dash app with werkzeug (threaded, like Flask's dev server) until killed."""
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    make_server("127.0.0.1", port, app.server, threaded=True).serve_forever()


class ThreadServer:
    """A Dash app served by werkzeug in a thread of this process."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = make_server("127.0.0.1", self.port, app.server, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


class ProcessServer:
    """A server started by `argv` (which must listen on `port`) in its own process."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})})
        try:
            wait_for_port(port, proc=self.proc)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def launch_chromium(playwright: Any) -> Any:
    """Headless Debian Chromium through Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(func: Callable[[], Any]) -> float:
    """Seconds one call of `func` takes (freeing its result comes after the clock stops)."""
    start = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (it reads fine in a terminal too); numbers right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.rjust(w) if num else c.ljust(w)
                for c, w, num in zip(row, widths, numeric, strict=True)
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else ("-" * (w + 2))
            for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").rstrip("x%").replace(" ", ""))
    except ValueError:
        return text in ("", "-", "n/a")
    return True


def machine() -> str:
    """One line about where a benchmark ran."""
    cpu = platform.processor() or platform.machine()
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sqlite3

    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}"
    )


# page.evaluate(CLICK, [button_id, output_id, timeout_ms]): click a button and resolve with
# the ms until the output's text changes.
CLICK = """([button, output, timeout]) => new Promise((resolve, reject) => {
  const out = document.getElementById(output);
  const before = out.textContent;
  const timer = setTimeout(() => reject(new Error("no output after " + timeout + " ms")),
                           timeout);
  const observer = new MutationObserver(() => {
    if (out.textContent === before) return;
    const ms = performance.now() - start;
    observer.disconnect();
    clearTimeout(timer);
    resolve(ms);
  });
  observer.observe(out, {childList: true, subtree: true, characterData: true});
  const start = performance.now();
  document.getElementById(button).click();
})"""
