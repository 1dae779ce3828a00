"""Background callbacks read and write stores with Dash's CeleryManager: a real redis-server
as the broker and result backend, a real Celery worker process (prefork, two at once), the
web server under gunicorn, a real browser; on the SQLite backend and on the Redis backend.

The worker imports the same app module as the web server (tests/apps/background_app.py),
so `dash_stash.init(app)` runs there too: that is how the job finds the app's stash."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from dash_stash.backends import open_backend
from dash_stash.engine import StashEngine
from tests.support.background_page import check_midway, expected, use
from tests.support.net import stop_group

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.redis]

ROOT = Path(__file__).resolve().parent.parent
SECRET = "celery-test-secret"


class Worker:
    """`celery -A background_app:celery_app worker`, as users start one; ready once it says so."""

    def __init__(self, env: dict[str, str]) -> None:
        argv = [sys.executable, "-m", "celery", "-A", "background_app:celery_app", "worker"]
        argv += ["--pool=prefork", "--concurrency=2", "--loglevel=INFO"]
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            for line in self.proc.stdout or ():
                self.lines.append(line)
                if " ready." in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(90) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("the Celery worker did not start:\n" + "".join(self.lines))

    def stop(self) -> None:
        stop_group(self.proc, timeout=20)


@pytest.fixture
def celery_app_env(redis_url: str) -> Iterator[Callable[..., dict[str, str]]]:
    """env(backend) -> the environment of the web server and the worker; starts the worker
    (with `worker_backend`, if given, instead: a worker that does not reach the store)."""
    workers: list[Worker] = []
    broker = redis_url.rsplit("/", 1)[0] + "/1"

    def start(backend: str, worker_backend: str | None = None) -> dict[str, str]:
        env = {
            "BG_MANAGER": "celery",
            "BG_BROKER": broker,
            "DASH_STASH_BACKEND": backend,
            "DASH_STASH_SECRET": SECRET,
            "BG_HEARTBEAT": "1",
        }
        worker_env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "apps"), str(ROOT)]),
            **env,
            "DASH_STASH_BACKEND": worker_backend or backend,
        }
        workers.append(Worker(worker_env))
        return env

    yield start
    for worker in workers:
        worker.stop()
        print("--- celery worker said:\n" + "".join(worker.lines[-80:]))


def test_a_celery_job_fills_a_sqlite_store_as_dash_fills_a_dcc_store(
    celery_app_env, gunicorn, page, tmp_path
):
    env = celery_app_env(f"sqlite:///{tmp_path}/stash.db")
    seen = use(page, gunicorn("background_app:server", workers=1, env=env).url)
    check_midway(seen["first"])
    check_midway(seen["second"])
    assert seen == expected()


def test_two_celery_jobs_and_a_callback_write_a_redis_store_at_once(
    celery_app_env, gunicorn, browser, redis_url
):
    """Two jobs append rows while a normal callback counts: nothing is lost. Then another
    browser session replays the first job's poll (its URL and body): it gets no token."""
    env = celery_app_env(redis_url)
    url = gunicorn("background_app:server", workers=1, env=env).url
    context = browser.new_context()
    page = context.new_page()
    polls: list = []
    page.on(
        "request",
        lambda r: polls.append((r.url, r.post_data)) if "cacheKey=" in r.url else None,
    )
    page.goto(url)
    expect(page.locator("#show")).to_have_text('{"bumps": 0, "rows": []}')
    page.click("#a")
    page.click("#b")
    page.click("#bump")
    expect(page.locator("#show")).to_contain_text('"bumps": 1')
    page.click("#bump")  # one after the other: two at once would both count from one value
    rows = [f"{label}1-{i}" for label in "ab" for i in range(3)]
    for row in rows:
        expect(page.locator("#show")).to_contain_text(row)
    expect(page.locator("#show")).to_contain_text('"bumps": 2')
    assert page.locator("#error").text_content() == ""
    # they did overlap: a job's write was merged onto one it had not read
    engine = StashEngine(open_backend(redis_url))
    (namespace,) = engine.backend.namespaces()
    (key,) = [k for k in engine.backend.keys(namespace) if k.store_id == "data" and k.session]
    records = [engine.backend.read(key), *engine.backend.history(key)]
    merged = [r for r in records if r.kind == "merge"]
    assert merged and {r.writer for r in records} == {"job", "bump"}
    polls.clear()
    page.click("#run")  # Dash keeps its result (cache_by): a replayed poll would get it
    expect(page.locator("#show")).to_contain_text("run1-5", timeout=30_000)
    context.close()

    attacker = requests.Session()
    attacker.get(url, timeout=30)  # a session of its own
    poll_url, body = polls[-1]
    reply = attacker.post(
        poll_url, data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert reply.status_code == 500  # refused: the result belongs to another session
    assert "ds1." not in reply.text and "run1" not in reply.text


def test_a_worker_on_another_sqlite_file_says_which_backend_it_needs(
    celery_app_env, gunicorn, page, tmp_path
):
    """The worker's SQLite path is not the web server's (another folder, another host)."""
    mine = tmp_path / "web" / "stash.db"
    mine.parent.mkdir()
    env = celery_app_env(f"sqlite:///{mine}", worker_backend=f"sqlite:///{tmp_path}/other.db")
    page.goto(gunicorn("background_app:server", workers=1, env=env).url)
    expect(page.locator("#show")).to_have_text('{"bumps": 0, "rows": []}')
    page.click("#a")
    expect(page.locator("#error")).to_contain_text(f"the worker needs 'sqlite:///{mine}'")
    expect(page.locator("#show")).to_have_text('{"bumps": 0, "rows": []}')
