"""The seed article's broken app, fixed by two changed lines, in a real browser."""

from __future__ import annotations

import pytest

from tests.apps import seed_app
from tests.conftest import ASGI_SERVERS
from tests.support.seed_clicks import run_clicks

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_seed_app_keeps_both_names_on_every_click(serve, page, tmp_path):
    server = serve(seed_app.make_app(f"sqlite:///{tmp_path}/stash.db"))
    assert run_clicks(page, server.url, 50) == []


def test_dcc_store_loses_updates_in_the_same_test(serve, page):
    """The same harness on the original app: proves the test can see a lost update."""
    server = serve(seed_app.make_app(use_dcc=True))
    assert len(run_clicks(page, server.url, 10)) >= 5


def test_seed_app_under_gunicorn_with_4_workers(gunicorn, page, tmp_path):
    server = gunicorn(
        "seed_app:create_server()",
        workers=4,
        env={"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db"},
    )
    assert run_clicks(page, server.url, 25) == []
    workers = page.text_content("#pids").split()
    assert len(workers) > 1, f"all callbacks went to one worker: {workers}"


@pytest.mark.parametrize("server", ASGI_SERVERS)
def test_seed_app_under_uvicorn_and_hypercorn(dash_server, page, tmp_path, server):
    """FastAPI under uvicorn, Quart under hypercorn: the same clicks, no name lost."""
    env = {"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db"}
    s = dash_server(server, "seed_app:create_server", env=env)
    assert run_clicks(page, s.url, 10) == []
