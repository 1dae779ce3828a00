"""Background callbacks read and write stores, in a real browser, with Dash's real
DiskcacheManager (its job subprocesses); tests/test_background_celery_browser.py does the
same with a Celery worker.

The app (tests/apps/background_app.py) runs under gunicorn, as users run it; the same page
runs on `dcc.Store` and on `dash_stash.Store`, and what the user sees must match."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.background_page import check_midway, expected, use

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_a_background_job_fills_a_store_as_it_fills_a_dcc_store(gunicorn, browser, tmp_path):
    results = {}
    for kind in ("dcc", "stash"):
        env = {
            "BG_MANAGER": "diskcache",
            "BG_STORE": kind,
            "BG_CACHE_DIR": str(tmp_path / kind / "cache"),
            "BG_HEARTBEAT": "1",
            "DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db",
        }
        server = gunicorn("background_app:server", workers=1, env=env)
        context = browser.new_context()
        results[kind] = use(context.new_page(), server.url)
        context.close()
        check_midway(results[kind]["first"])
        check_midway(results[kind]["second"])
    assert results["stash"] == results["dcc"] == expected()


def test_a_job_on_a_memory_backend_says_which_backend_it_needs(gunicorn, page, tmp_path):
    """memory:// lives in the web process: the job's subprocess must not read a copy of it
    and write where nobody reads."""
    env = {
        "BG_MANAGER": "diskcache",
        "BG_CACHE_DIR": str(tmp_path / "cache"),
        "BG_HEARTBEAT": "1",
        "DASH_STASH_BACKEND": "memory://",
    }
    page.goto(gunicorn("background_app:server", workers=1, env=env).url)
    expect(page.locator("#show")).to_have_text('{"bumps": 0, "rows": []}')
    page.click("#a")
    expect(page.locator("#error")).to_contain_text("'memory://' lives in one process only")
    expect(page.locator("#error")).to_contain_text("sqlite:///<path> on one host, or redis://")
    expect(page.locator("#show")).to_have_text('{"bumps": 0, "rows": []}')


def test_a_local_store_cannot_take_a_progress_default(serve, page, tmp_path, caplog):
    """One value per browser cannot go back to its default while keeping the job's
    progress: refused (500) before any job starts, with an error naming the store."""
    import diskcache
    from dash import Dash, DiskcacheManager, Input, Output, html

    import dash_stash

    manager = DiskcacheManager(diskcache.Cache(str(tmp_path / "cache")))
    app = Dash(__name__, background_callback_manager=manager)
    dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db")
    app.layout = html.Div(
        [
            html.Button("go", id="go"),
            dash_stash.Store(id="seen", storage_type="local"),
            html.Pre(id="out"),
        ]
    )

    @app.callback(
        Output("out", "children"),
        Input("go", "n_clicks"),
        background=True,
        progress=[Output("seen", "data")],
        progress_default=[None],
        prevent_initial_call=True,
    )
    def go(set_progress, n_clicks):
        set_progress("halfway")
        return "done"

    page.goto(serve(app).url)
    with page.expect_response(lambda r: "_dash-update-component" in r.url) as started:
        page.click("#go")
    assert started.value.status == 500
    errors = [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert any("'go'" in e and "store 'seen' has storage_type='local'" in e for e in errors)
    expect(page.locator("#out")).to_have_text("")
