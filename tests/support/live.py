"""Helpers for the shared and live store tests (tests/test_shared_http.py,
tests/test_live_*.py, tests/redis/test_live_redis_browser.py), on tests/apps/live_app.py:
one user's HTTP calls to its callbacks, and the two-users board scenario in real browsers."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.support.dash_client import DashClient

LIVE_APP = "live_app:server"  # for the gunicorn fixture (tests/apps is on its PYTHONPATH)


def browser(url: str, team: str | None = None) -> DashClient:
    """A new browser (cookie jar); logged in to `team` first when given."""
    c = DashClient(url)
    if team is not None:
        c.http.get(f"{url}/login", params={"team": team}).raise_for_status()
        c.layout = c.http.get(url + "/_dash-layout").json()  # rendered for the logged-in user
    return c


def token_from(response) -> str:
    response.raise_for_status()
    (output,) = response.json()["response"].values()
    return output["data"]


def board(c: DashClient, token: str) -> list[str]:
    out = c.call(c.callback("items."), {("board", "data"): token}).json()["response"]
    return [li["props"]["children"] for li in out["items"]["children"]]


def add(c: DashClient, n: int, who: str) -> str:
    cb = c.callback("board.")
    token = c.prop("board", "data")
    return token_from(c.call(cb, {("add", "n_clicks"): n, ("who", "value"): who, **_hidden(token)}))


def _hidden(token: str) -> dict:
    return {("board", "data"): token}


def team_value(c: DashClient, token: str) -> dict:
    r = c.call(c.callback("team-out."), {("team", "data"): token})
    r.raise_for_status()
    return json.loads(r.json()["response"]["team-out"]["children"])


def add_note(c: DashClient, token: str, n: int, who: str):
    cb = c.callback("team.")
    return c.call(cb, {("team-add", "n_clicks"): n, ("who", "value"): who, ("team", "data"): token})


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
        # five clicks may be five requests in flight: appends commit in the order they land
        assert sorted(items(a)) == [f"b-{n}" for n in range(1, 6)]
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
