"""The "Stores" panel in Dash's dev tools and the operator page, driven in a real browser."""

from __future__ import annotations

import base64
import time

import pytest
from playwright.sync_api import expect

from dash_stash.backends import StoreKey, open_backend
from dash_stash.engine import Replace, StashEngine
from tests.apps import inspector_app

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def app_url(serve, tmp_path):
    return serve(inspector_app.make_app(f"sqlite:///{tmp_path}/stash.db")).url


def open_app(page, url):
    page.goto(url)
    expect(page.locator("#out")).to_have_text("count=0 color=white tags=")


def open_panel(page, store):
    """Open the panel from the dev tools (or, on Dash < 3.2, the floating button)."""
    page.click("#dash-stash-panel-button")
    row = page.locator(f".ds-store[data-id='{store}']")
    row.click()
    return row


def click(page, button, out):
    page.click(f"#{button}")
    expect(page.locator("#out")).to_have_text(out)


def test_panel_lists_the_page_stores_and_follows_writes(page, app_url):
    open_app(page, app_url)
    open_panel(page, "counter")
    rows = page.locator(".ds-store")
    expect(rows).to_have_count(4)  # counter, prefs, table, long: every store of the page
    value = page.locator("#ds-value")
    expect(value).to_contain_text('"count": 0')  # never written: its layout data
    expect(page.locator(".ds-store[data-id='counter'] .ds-store-version")).to_have_text("0")

    click(page, "inc", "count=1 color=white tags=")
    expect(value).to_contain_text('"count": 1')  # the panel polls: no reload, no reselect
    counter = page.locator(".ds-store[data-id='counter']")
    expect(counter).to_contain_text("increment")  # the last writer, by callback name
    expect(counter.locator(".ds-store-version")).to_have_text("1")

    value.get_by_text('"tags"').click()  # a collapsed child opens on demand
    click(page, "tag", "count=1 color=white tags=t1")
    expect(value).to_contain_text('"t1"')


def test_panel_history_diff_and_restore(page, app_url):
    open_app(page, app_url)
    click(page, "inc", "count=1 color=white tags=")
    click(page, "inc", "count=2 color=white tags=")
    click(page, "tag", "count=2 color=white tags=t1")
    open_panel(page, "counter")

    page.click("#ds-tab-history")
    history = page.locator(".ds-version")
    expect(history).to_have_count(3)
    kinds = page.locator(".ds-version .ds-kind")
    expect(kinds).to_have_text(["replace", "patch", "patch"])  # newest first
    expect(history.first).to_contain_text("add_tag")

    page.click("#ds-tab-diff")
    page.select_option("#ds-diff-a", "1")
    page.select_option("#ds-diff-b", "3")
    page.click("#ds-diff-go")
    changes = page.locator(".ds-change")
    expect(changes).to_have_text(['~ ["count"]: 1 → 2', '+ ["tags"][0]: "t1"'])

    page.click("#ds-tab-history")
    page.click(".ds-restore[data-version='1']")
    # The app follows: its callback on the store's data fired with the restored value.
    expect(page.locator("#out")).to_have_text("count=1 color=white tags=")
    expect(history).to_have_count(4)
    expect(kinds.first).to_have_text("restore (of v1)")
    expect(history.first).to_contain_text("dash-stash inspector")
    # and later writes build on the restored value
    click(page, "inc", "count=2 color=white tags=")


def test_panel_shows_what_a_merge_conflict_kept(page, app_url):
    open_app(page, app_url)
    page.click("#conflict")  # two callbacks read version 0 and paint it two colours
    expect(page.locator("#out")).to_contain_text("color=")
    open_panel(page, "counter")
    page.click("#ds-tab-history")
    expect(page.locator(".ds-version")).to_have_count(2)
    conflict = page.locator(".ds-conflict")
    expect(conflict).to_have_count(1)
    merged = page.locator(".ds-version").first  # the second writer merged onto the first
    expect(merged.locator(".ds-kind")).to_have_text("merge")
    second = "paint_red" if "paint_red" in merged.inner_text() else "paint_blue"
    first, kept = {"paint_red": ("paint_blue", "red"), "paint_blue": ("paint_red", "blue")}[second]
    other = {"red": "blue", "blue": "red"}[kept]
    # which two callbacks changed which path two ways, both values, and what the policy kept
    expect(conflict).to_have_text(
        f'conflict at ["color"]: {second} wrote "{kept}", {first} wrote "{other}" '
        f'(base "white"); the policy kept ours: "{kept}"'
    )
    expect(page.locator("#out")).to_contain_text(f"color={kept}")  # last-writer-wins


def test_panel_previews_tables_and_long_lists_lazily(page, app_url):
    open_app(page, app_url)
    open_panel(page, "table")
    value = page.locator("#ds-value")
    expect(value).to_contain_text("<pandas.DataFrame shape (2, 2)>")
    # a table shows its shape, dtypes and first rows
    expect(value).to_contain_text("pop float64")
    expect(value.locator(".ds-table td")).to_have_text(['"Oslo"', "0.7", '"Lima"', "10.0"])

    page.click(".ds-store[data-id='long']")
    expect(value).to_contain_text("[250 items]")
    expect(value.locator(".ds-tree .ds-tree")).to_have_count(100)  # one page of children
    value.locator(".ds-more").click()
    expect(value.locator(".ds-tree .ds-tree")).to_have_count(200)


def test_operator_page_lists_sessions_by_hash_and_sweeps(browser, app_url, tmp_path):
    users = [browser.new_context() for _ in range(2)]
    try:
        for n, context in enumerate(users):
            page = context.new_page()
            open_app(page, app_url)
            for _ in range(n + 1):
                page.click("#inc")
            expect(page.locator("#out")).to_contain_text(f"count={n + 1}")
        cookies = [c["value"] for ctx in users for c in ctx.cookies() if "stash" in c["name"]]
        operator = users[0].new_page()
        operator.goto(app_url + "/_dash-stash/")
        expect(operator.locator("#total")).to_contain_text("in 3 sessions")  # 2 + the app
        body = operator.content()
        assert cookies and not any(cookie in body for cookie in cookies)  # hashes, no cookies
        expect(operator.locator("tr.store", has_text="counter")).to_have_count(2)
        operator.fill("#q", "count")
        operator.click("#search")
        expect(operator.locator("tr.store")).to_have_count(2)
        old = StashEngine(open_backend(f"sqlite:///{tmp_path}/stash.db"))  # one expired store
        old.commit(StoreKey("inspected/", "x", "tab-1", "old"), Replace(1), ttl=0.01)
        time.sleep(0.05)
        operator.click("#sweep")
        expect(operator.locator("#swept")).to_have_text("Swept 1 expired store.")
        expect(operator.locator("tr.store", has_text="counter")).to_have_count(2)
    finally:
        for context in users:
            context.close()


def test_operator_page_behind_basic_auth(browser, serve, tmp_path):
    def authorize(request):
        from flask import Response

        expected = "Basic " + base64.b64encode(b"ops:s3cret").decode()
        if request.headers.get("Authorization") == expected:
            return True
        return Response("login", 401, {"WWW-Authenticate": 'Basic realm="dash-stash"'})

    app = inspector_app.make_app(f"sqlite:///{tmp_path}/s.db", debug=False, inspector=authorize)
    url = serve(app).url
    anonymous = browser.new_context()  # a browser with no password gets the challenge only
    response = anonymous.request.get(url + "/_dash-stash/")
    assert response.status == 401 and response.text() == "login"
    assert response.headers["www-authenticate"] == 'Basic realm="dash-stash"'
    anonymous.close()
    operator = browser.new_context(http_credentials={"username": "ops", "password": "s3cret"})
    page = operator.new_page()
    response = page.goto(url + "/_dash-stash/")
    assert response.status == 200
    expect(page.locator("h1")).to_contain_text("dash-stash")
    operator.close()
