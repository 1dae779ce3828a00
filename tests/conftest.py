"""Shared fixtures: a real browser (Debian Chromium via Playwright) and real Dash servers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.net import free_port, wait_for_port
from tests.support.redis_server import (  # noqa: F401 - fixtures for every test folder
    redis_client,
    redis_cluster,
    redis_cluster_nodes,
    redis_factory,
    redis_session_server,
    redis_url,
    tls_files,
)

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
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import expect, sync_playwright

    # A cold browser, or a fresh server reading Dash's bundles from disk on a loaded CI
    # machine, can take more than Playwright's default 5 s to show a first page.
    expect.set_options(timeout=20_000)

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the test script does)")
    b = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield b
    b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context()
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    p = context.new_page()
    p.set_default_timeout(20_000)
    return p


class ThreadedServer:
    """A Dash app served by werkzeug in a thread of the test process (threaded, like Flask dev)."""

    def __init__(self, app) -> None:
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


@pytest.fixture
def serve() -> Iterator[Callable[..., ThreadedServer]]:
    """serve(app) -> server with .url; stopped at the end of the test."""
    servers: list[ThreadedServer] = []

    def start(app) -> ThreadedServer:
        s = ThreadedServer(app)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


class ProcessServer:
    """An app run by gunicorn (or any command) in its own process group."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str], cwd: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for_port(port, timeout=60)
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> str:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.stdout.read() if self.proc.stdout else ""


@pytest.fixture
def gunicorn() -> Iterator[Callable[..., ProcessServer]]:
    """gunicorn("module:server", workers=4, env={...}) -> server with .url."""
    servers: list[ProcessServer] = []

    def start(
        target: str,
        workers: int = 4,
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
        port: int | None = None,
    ) -> ProcessServer:
        port = port or free_port()
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            # no keep-alive: every request may land on another worker, as behind a balancer
            "--keep-alive",
            "0",
            target,
        ]
        full_env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [
                    str(ROOT / "tests" / "apps"),
                    str(ROOT / "examples"),
                    os.environ.get("PYTHONPATH", ""),
                ]
            ),
            **(env or {}),
        }
        s = ProcessServer(argv, port, full_env, cwd)
        servers.append(s)
        return s

    yield start
    for s in servers:
        print(f"--- server {s.url} said:\n{s.stop()}")  # pytest shows it when a test fails
