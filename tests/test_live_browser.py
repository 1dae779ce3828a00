"""Live shared stores in real browsers (issue 13): two users (two browser contexts) on one
`storage_type="app"` board served by `gunicorn -w 4 --threads 4` on a SQLite file; each
sees the other's writes without any click of its own, and both end showing every item.

The same scenario runs on two hosts sharing Redis in tests/redis/test_live_redis_browser.py.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

LIVE_APP = "live_app:server"


def open_board(browser, url: str, who: str) -> Page:
    """A new user (browser context) on the board, named `who`, once the page has rendered."""
    page = browser.new_context().new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.fill("#who", who)
    expect(page.locator("#add")).to_be_visible()
    page.wait_for_function("document.querySelector('#items') !== null")
    return page


def items(page: Page) -> list[str]:
    return page.locator("#items li").all_text_contents()


def clicks(page: Page, n: int) -> None:
    for _ in range(n):
        page.click("#add")


def two_users_share_a_board(browser, url_a: str, url_b: str) -> None:
    """Each user writes 20 items; each sees the other's first writes with no click of its
    own, then both write at once; both end with all 40 items."""
    a, b = open_board(browser, url_a, "a"), open_board(browser, url_b, "b")
    try:
        clicks(b, 5)  # b alone: a, idle, follows
        expect(a.locator("#items li")).to_have_count(5)
        assert items(a) == [f"b-{n}" for n in range(1, 6)]
        clicks(a, 5)  # a alone: b, idle since its clicks, follows
        expect(b.locator("#items li")).to_have_count(10)
        for _ in range(15):  # both at once
            a.click("#add")
            b.click("#add")
        expected = sorted([f"a-{n}" for n in range(1, 21)] + [f"b-{n}" for n in range(1, 21)])
        for page in (a, b):
            expect(page.locator("#items li")).to_have_count(40)
            assert sorted(items(page)) == expected
    finally:
        a.context.close()
        b.context.close()


def test_two_users_on_gunicorn_workers_and_sqlite_see_each_others_writes(
    gunicorn, browser, tmp_path
):
    env = {"LIVE_APP_BACKEND": f"sqlite:///{tmp_path / 'stash.db'}"}
    server = gunicorn(LIVE_APP, workers=4, env=env)
    two_users_share_a_board(browser, server.url, server.url)
    log = server.stop()
    assert "Traceback" not in log, log
