"""Stores inside `dash.register_page` pages, static and layout functions, across navigation."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.apps import pages_app
from tests.conftest import ALL_SERVERS

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.mark.parametrize("server", ALL_SERVERS)
def test_stores_in_pages_survive_navigation_as_their_scope_says(served_app, page, server):
    page.goto(served_app(pages_app, server))
    expect(page.locator("#a-show")).to_have_text("a=0")
    page.click("#a-inc")
    page.click("#a-inc")
    expect(page.locator("#a-show")).to_have_text("a=2")
    page.click("#to-b")
    expect(page.locator("#b-show")).to_have_text("b=[]")
    page.click("#b-add")
    expect(page.locator("#b-show")).to_have_text("b=[1]")
    page.click("#b-add")
    expect(page.locator("#b-show")).to_have_text("b=[1, 2]")
    page.click("#to-a")  # session scope: the tab's value is back
    expect(page.locator("#a-show")).to_have_text("a=2")
    page.click("#a-inc")
    expect(page.locator("#a-show")).to_have_text("a=3")
    page.click("#to-b")  # local scope: the browser's value is back
    expect(page.locator("#b-show")).to_have_text("b=[1, 2]")
