"""`examples/seed_desync.py`, the article's app with two changed lines, as a user runs it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_the_articles_app_keeps_both_names(gunicorn, page, tmp_path):
    server = gunicorn(
        "seed_desync:server",
        workers=2,
        cwd=tmp_path,
        env={"SEED_DELAY": "0.2", "DASH_STASH_BACKEND": ""},
    )
    page.goto(server.url)
    expect(page.locator("#show")).to_have_text("{}")
    page.click("#load_data")
    expect(page.locator("#show")).to_have_text('{"first_name": "Mickael", "last_name": "Jackson"}')
    # The default backend: SQLite under ./.dash_stash/ of the working directory.
    assert (tmp_path / ".dash_stash" / "stash.db").exists()
