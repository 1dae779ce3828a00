"""The first pages after workers start never hang (plotly/dash#3971), on gunicorn run as users
run it: several threaded workers, no preload, no warm-up request."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROUNDS = 3  # fresh servers
PAGES = 6  # pages opened at once on each


def test_first_pages_on_fresh_threaded_workers_all_render(gunicorn, browser, tmp_path):
    for round_ in range(ROUNDS):
        server = gunicorn(
            "seed_app:create_server()",
            workers=4,
            env={"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash-{round_}.db"},
        )
        contexts = [browser.new_context() for _ in range(PAGES)]
        try:
            pages = [context.new_page() for context in contexts]
            for page in pages:  # all at once: every page's first requests overlap
                page.goto(server.url, wait_until="commit")
            for page in pages:
                page.wait_for_selector("#load_data", timeout=30_000)  # rendered: not stuck
                page.click("#load_data")
                expect(page.locator("#show")).to_have_text("Mickael1 Jackson1")
        finally:
            for context in contexts:
                context.close()
        log = server.stop()
        assert "Traceback" not in log, log
