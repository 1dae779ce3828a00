"""The Store in a real browser: scopes, privacy, tokens, pattern ids, dynamic stores, errors."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.apps import features_app
from tests.conftest import ALL_SERVERS

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def app_url(request, served_app):
    """The app on Flask in this process, or (`app_url` parametrized with "fastapi" or
    "quart") on that server under uvicorn or hypercorn."""
    return served_app(features_app, getattr(request, "param", "flask"))


ON_EVERY_SERVER = pytest.mark.parametrize("app_url", ALL_SERVERS, indirect=True)


def open_page(context, url):
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(url)
    expect(page.locator("#scopes")).not_to_be_empty()
    return page


def scopes(page, text):
    expect(page.locator("#scopes")).to_have_text(text)


def storages(page) -> dict:
    return page.evaluate("""() => ({
        local: Object.fromEntries(Object.entries(localStorage)),
        session: Object.fromEntries(Object.entries(sessionStorage)),
    })""")


@ON_EVERY_SERVER
def test_scopes_keep_dcc_store_meaning(browser, app_url):
    context = browser.new_context()
    page = open_page(context, app_url)
    scopes(page, "mem=0 ses=0 loc=0")
    page.click("#inc")
    scopes(page, "mem=1 ses=1 loc=1")
    page.click("#inc")
    scopes(page, "mem=2 ses=2 loc=2")

    page.reload()  # memory: one page load; session and local survive a reload
    scopes(page, "mem=0 ses=2 loc=2")

    tab = open_page(context, app_url)  # a new tab: only local is shared
    scopes(tab, "mem=0 ses=0 loc=2")
    tab.click("#inc")
    scopes(tab, "mem=1 ses=1 loc=3")

    state = context.storage_state()  # the browser restarts with its cookie and localStorage
    context.close()
    restarted = browser.new_context(storage_state=state)
    page = open_page(restarted, app_url)
    scopes(page, "mem=0 ses=0 loc=3")

    page.click("#clear")  # clear_data removes the value on the server too
    scopes(page, "mem=0 ses=0 loc=None")
    page.reload()
    scopes(page, "mem=0 ses=0 loc=0")
    restarted.close()


def test_browser_holds_only_small_tokens(browser, app_url):
    context = browser.new_context()
    page = open_page(context, app_url)
    page.click("#inc")
    scopes(page, "mem=1 ses=1 loc=1")
    held = storages(page)
    assert set(held["local"]) >= {"loc", "loc-timestamp"} and "ses" in held["session"]
    for value in (held["local"]["loc"], held["session"]["ses"]):
        token = json.loads(value)
        assert token.startswith("ds1.") and len(token) < 1024
    assert features_app.SECRET not in json.dumps(held)
    assert features_app.SECRET not in page.content()
    cookie = next(c for c in context.cookies() if c["name"].startswith("dash_stash_session"))
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    context.close()


def test_sessions_are_private_and_copied_tokens_read_nothing(browser, app_url):
    alice = browser.new_context()
    a = open_page(alice, app_url)
    for _ in range(3):
        a.click("#inc")
    scopes(a, "mem=3 ses=3 loc=3")
    stolen = storages(a)

    bob = browser.new_context()
    b = open_page(bob, app_url)
    scopes(b, "mem=0 ses=0 loc=0")  # another browser: its own values
    # Bob plants Alice's tokens in his storage (a copied or stolen token).
    b.evaluate(
        """s => {
        for (const [k, v] of Object.entries(s.local)) localStorage.setItem(k, v);
        for (const [k, v] of Object.entries(s.session)) sessionStorage.setItem(k, v);
    }""",
        stolen,
    )
    b.reload()
    scopes(b, "mem=0 ses=0 loc=0")
    # An edited token is no better.
    token = json.loads(stolen["local"]["loc"])
    b.evaluate("t => localStorage.setItem('loc', JSON.stringify(t))", token[:-2] + "AA")
    b.reload()
    scopes(b, "mem=0 ses=0 loc=0")
    b.click("#inc")  # and Bob's writes never reach Alice
    scopes(b, "mem=1 ses=1 loc=1")
    a.reload()
    scopes(a, "mem=0 ses=3 loc=3")
    alice.close()
    bob.close()


def test_unstorable_value_fails_the_callback_and_keeps_the_value(browser, app_url, caplog):
    context = browser.new_context()
    page = open_page(context, app_url)
    page.click("#inc")
    scopes(page, "mem=1 ses=1 loc=1")
    with page.expect_response(lambda r: "_dash-update-component" in r.url and r.status == 500):
        page.click("#bad")
    for _ in range(100):  # the server thread logs the error as it answers; give it a moment
        if "not storable" in caplog.text:
            break
        page.wait_for_timeout(50)
    assert "callback 'bad', store 'loc'" in caplog.text
    assert 'loc["oops"]: object of type object is not storable' in caplog.text
    page.reload()
    scopes(page, "mem=0 ses=1 loc=1")
    context.close()


def test_modified_timestamp_and_triggered_id(browser, app_url):
    context = browser.new_context()
    page = open_page(context, app_url)
    page.click("#inc")
    expect(page.locator("#stamp")).to_have_text("ts>0=True trig=loc")
    context.close()


@ON_EVERY_SERVER
def test_pattern_matching_ids_match_and_all(browser, app_url):
    context = browser.new_context()
    page = open_page(context, app_url)
    expect(page.locator("#carts")).to_have_text(" |  | ")
    page.click("text=add 1")
    expect(page.locator("#carts")).to_have_text(" | item1 | ")
    page.click("text=bump 1")  # output-only Patch through MATCH
    page.click("text=add 2")
    page.click("text=add 1")
    expect(page.locator("#carts")).to_have_text(" | item1,bump1,item2 | item1")
    page.click("#bump-all")  # output-only Patches through ALL
    expect(page.locator("#carts")).to_have_text("all | item1,bump1,item2,all | item1,all")
    page.click("text=add 0")
    expect(page.locator("#carts")).to_have_text("all,item1 | item1,bump1,item2,all | item1,all")
    context.close()


def test_store_returned_by_a_callback(browser, app_url):
    context = browser.new_context()
    page = open_page(context, app_url)
    page.click("#make")
    expect(page.locator("#dyn-show")).to_have_text("made=1 n=0")
    page.click("#dyn-inc")
    expect(page.locator("#dyn-show")).to_have_text("made=1 n=1")
    page.click("#dyn-inc")
    expect(page.locator("#dyn-show")).to_have_text("made=1 n=2")
    context.close()
