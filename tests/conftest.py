"""Shared fixtures: a real browser (Debian Chromium via Playwright) and real Dash servers."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import free_port, stop_group, wait_for_port
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
        # 5 s: a server that has not exited by then waits on a live stream held for a page
        # the test closed (gunicorn's graceful stop waits for it until the next ping, 15 s
        # on an app that keeps the default heartbeat); nothing a test checks comes after.
        stop_group(self.proc, timeout=5)
        return self.proc.stdout.read() if self.proc.stdout else ""


def dash_version() -> tuple[int, int]:
    import dash

    return tuple(int(n) for n in dash.__version__.split(".")[:2])  # type: ignore[return-value]


def _asgi_missing() -> str:
    """Why the FastAPI and Quart servers cannot be tested here ("" when they can)."""
    if dash_version() < (4, 2):
        import dash

        return f"FastAPI and Quart servers need Dash 4.2+ (this is Dash {dash.__version__})"
    for module in ("fastapi", "uvicorn", "quart", "hypercorn", "websockets"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[test]')"
    return ""


ASGI_MISSING = _asgi_missing()
needs_asgi = pytest.mark.skipif(bool(ASGI_MISSING), reason=ASGI_MISSING or "-")
# Dash's servers, each run by the server users run it with (see `server_argv`)
SERVERS = ("flask", "fastapi", "quart")
ASGI_SERVERS = [pytest.param(s, marks=needs_asgi) for s in ("fastapi", "quart")]
ALL_SERVERS = [pytest.param("flask"), *ASGI_SERVERS]


def server_argv(server: str, target: str, port: int, workers: int) -> list[str]:
    """The command that serves `target` ("module:factory") as its users run it: gunicorn
    for Flask, uvicorn for FastAPI, hypercorn for Quart."""
    if server == "flask":
        return gunicorn_argv(f"{target}()", port, workers)
    if server == "fastapi":
        where = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        return [sys.executable, "-m", "uvicorn", "--factory", target, *where]
    if server == "quart":
        bind = ["-b", f"127.0.0.1:{port}", "-w", str(workers)]
        return [sys.executable, "-m", "hypercorn", *bind, f"{target}()"]
    raise ValueError(server)


def gunicorn_argv(target: str, port: int, workers: int) -> list[str]:
    """gunicorn serving `target` (gunicorn's form: "module:app" or "module:factory()")."""
    # no keep-alive: every request may land on another worker, as behind a balancer
    options = ["-w", str(workers), "--threads", "4", "--timeout", "120", "--keep-alive", "0"]
    return [sys.executable, "-m", "gunicorn", *options, "-b", f"127.0.0.1:{port}", target]


def app_env(env: dict[str, str] | None) -> dict[str, str]:
    """The environment of a served app: the test apps and examples on its path."""
    apps, examples = str(ROOT / "tests" / "apps"), str(ROOT / "examples")
    path = [apps, examples, str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), **(env or {})}


def start_server(
    server: str, target: str, workers: int = 1, env: dict[str, str] | None = None
) -> ProcessServer:
    """`target` ("module:factory") served by `server`'s usual server in its own process,
    with DASH_SERVER=`server` for the app to pick Dash's backend."""
    port = free_port()
    argv = server_argv(server, target, port, workers)
    return ProcessServer(argv, port, app_env({"DASH_SERVER": server, **(env or {})}), ROOT)


@pytest.fixture
def dash_server() -> Iterator[Callable[..., ProcessServer]]:
    """dash_server(server, "module:factory", workers=1, env={...}) -> server with .url."""
    servers: list[ProcessServer] = []

    def start(server: str, target: str, **options: Any) -> ProcessServer:
        s = start_server(server, target, **options)
        servers.append(s)
        return s

    yield start
    for s in servers:
        print(f"--- server {s.url} said:\n{s.stop()}")  # pytest shows it when a test fails


@pytest.fixture
def served_app(serve, dash_server, tmp_path) -> Callable[..., str]:
    """served_app(module, server="flask") -> url: a test app (a module of tests/apps, with
    `make_app(backend)` and `create_server()`) on one SQLite file, on `server`: Flask in this
    process, FastAPI under uvicorn, Quart under hypercorn."""

    def start(module: Any, server: str = "flask") -> str:
        backend = f"sqlite:///{tmp_path}/stash.db"
        if server == "flask":
            return serve(module.make_app(backend)).url
        target = f"{module.__name__.rpartition('.')[2]}:create_server"
        return dash_server(server, target, env={"DASH_STASH_BACKEND": backend}).url

    return start


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
        argv = gunicorn_argv(target, port, workers)
        s = ProcessServer(argv, port, app_env(env), cwd)
        servers.append(s)
        return s

    yield start
    for s in servers:
        print(f"--- server {s.url} said:\n{s.stop()}")  # pytest shows it when a test fails
