"""A write equal to the current value changes nothing the browser sees, as with `dcc.Store`:
two tabs on a `local` store whose render callback rewrites the unchanged list stay idle."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.apps import rewrite_app

pytestmark = [pytest.mark.browser, pytest.mark.integration]

IDLE = 2.0  # seconds of watching two idle tabs


def callback_requests(serve, browser, tmp_path, use_dcc: bool) -> tuple[int, str]:
    """Open two tabs, add an item in one, wait while nobody acts; count callback requests."""
    url = serve(rewrite_app.make_app(f"sqlite:///{tmp_path}/stash.db", use_dcc)).url
    context = browser.new_context()
    tabs = [context.new_page(), context.new_page()]
    calls = []
    for tab in tabs:
        tab.on("request", lambda r: calls.append(r) if "_dash-update-component" in r.url else 0)
        tab.goto(url)
        expect(tab.locator("#list")).to_have_text("milk")
    tabs[0].fill("#new", "eggs")
    tabs[0].click("#add")
    for tab in tabs:  # the other tab follows through its storage event
        expect(tab.locator("#list")).to_have_text("milkeggs")
    time.sleep(IDLE)  # a window to observe: requests here are the loop the issue measured
    token = tabs[1].evaluate("() => localStorage.getItem('todos')")
    context.close()
    return len(calls), token


def test_two_tabs_make_as_many_requests_as_with_dcc_store(serve, browser, tmp_path):
    with_dcc, _ = callback_requests(serve, browser, tmp_path / "dcc", use_dcc=True)
    with_stash, token = callback_requests(serve, browser, tmp_path / "stash", use_dcc=False)
    assert with_stash == with_dcc  # 2 renders per tab and 1 add: no rewrite loop
    assert token.startswith('"ds1.')  # the browser holds a token, not the list
