"""`examples/background_fill.py`: a slow background job fills a store while the bar moves, and
a normal callback writes the same store meanwhile; run as a user runs it (gunicorn, the
default SQLite backend in the working folder, Dash's DiskcacheManager)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_the_job_fills_the_store_while_the_bar_moves(gunicorn, page, tmp_path):
    env = {"DASH_STASH_BACKEND": "", "FILL_ROWS": "8", "FILL_DELAY": "0.25"}
    page.goto(gunicorn("background_fill:server", workers=1, cwd=tmp_path, env=env).url)
    expect(page.locator("#shown")).to_have_text("0 rows, 0 notes")
    page.click("#fill")
    expect(page.locator("#fill")).to_be_disabled()
    expect(page.locator("#bar")).not_to_have_attribute("value", "0")  # the bar moves
    page.click("#note")  # a normal callback writes the same store: merged with the job's
    expect(page.locator("#shown")).to_have_text("8 rows, 1 notes", timeout=30_000)
    expect(page.locator("#bar")).to_have_attribute("value", "8")
    page.reload()  # memory scope: a new page load starts from the layout data again
    expect(page.locator("#shown")).to_have_text("0 rows, 0 notes")
