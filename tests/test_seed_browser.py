"""The seed article's broken app, fixed by two changed lines, in a real browser."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "apps"))
import seed_app  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def run_clicks(page, url: str, clicks: int) -> int:
    """Click `clicks` times; return how many clicks lost a name."""
    page.goto(url)
    page.wait_for_selector("#show")
    page.evaluate(IDLE_PROBE)
    lost = 0
    for n in range(1, clicks + 1):
        page.evaluate("window.__done = 0")
        page.click("#load_data")
        page.wait_for_function("window.__settled()", polling=50)
        text = page.text_content("#show")
        if text != f"Mickael{n} Jackson{n}":
            lost += 1
    return lost


# Counts finished callback requests so the test knows when a click's callbacks are all done:
# each click runs load_data, update_first_name, update_last_name and show (once or twice).
IDLE_PROBE = """
() => {
    window.__done = 0; window.__inflight = 0;
    const orig = window.fetch;
    window.fetch = async (...a) => {
        const cb = String(a[0]).includes('_dash-update-component');
        if (cb) window.__inflight++;
        try { return await orig(...a); }
        finally { if (cb) { window.__inflight--; window.__done++; } }
    };
    window.__settled = () => {
        // a click runs at least 4 callbacks (load, first, last, show); then 250 ms of quiet
        if (window.__inflight > 0 || window.__done < 4) { window.__quiet = 0; return false; }
        window.__quiet = (window.__quiet || 0) + 1;
        return window.__quiet > 5;
    };
}
"""


def test_seed_app_keeps_both_names_on_every_click(serve, page, tmp_path):
    server = serve(seed_app.make_app(f"sqlite:///{tmp_path}/stash.db"))
    assert run_clicks(page, server.url, 50) == 0


def test_dcc_store_loses_updates_in_the_same_test(serve, page):
    """The same harness on the original app: proves the test can see a lost update."""
    server = serve(seed_app.make_app(use_dcc=True))
    assert run_clicks(page, server.url, 10) >= 5


def test_seed_app_under_gunicorn_with_4_workers(gunicorn, page, tmp_path):
    server = gunicorn("seed_app:create_server()", workers=4,
                      env={"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db"})
    assert run_clicks(page, server.url, 25) == 0
    workers = page.text_content("#pids").split()
    assert len(workers) > 1, f"all callbacks went to one worker: {workers}"
