"""Clientside callbacks and dash_clientside.set_props see and set a dash-stash store as they
would a dcc.Store: the same app on both, side by side; the browser keeps only tokens."""

from __future__ import annotations

import re

import dash
import pytest
from playwright.sync_api import expect

from tests.apps import clientside_app
from tests.conftest import ALL_SERVERS

pytestmark = [pytest.mark.browser, pytest.mark.integration]
DASH = tuple(int(n) for n in dash.__version__.split(".")[:2])


def steps(serve, browser, tmp_path, use_dcc: bool) -> list[tuple[str, str]]:
    app = clientside_app.make_app(f"sqlite:///{tmp_path}/stash.db", use_dcc)
    context = browser.new_context()
    page = context.new_page()
    page.goto(serve(app).url)
    seen = []

    def settle(py_text: str) -> None:
        expect(page.locator("#py-show")).to_have_text(py_text)
        # the clientside reader may answer after the server one (its read is a fetch): wait
        # for it to show this step's n, then record all it shows
        n = re.search(r"'n': (\d+)", py_text).group(1)
        expect(page.locator("#cs-show")).to_contain_text(f'"n":{n}')
        seen.append((page.locator("#cs-show").text_content(), py_text))

    settle("{'n': 0, 'when': '2024-01-01', 'keys': {'1': 'a', '2': 'b'}}")
    page.click("#inc")  # inline clientside writer that reads the store
    settle("{'n': 1, 'when': '2024-01-01', 'keys': {'1': 'a', '2': 'b'}}")
    page.click("#inc")
    settle("{'n': 2, 'when': '2024-01-01', 'keys': {'1': 'a', '2': 'b'}}")
    page.keyboard.press("k")  # dash_clientside.set_props from a keyboard handler
    settle("{'0': 1, 'n': 100, 'from': 'key'}")
    page.click("#inc")
    settle("{'0': 1, 'n': 101, 'from': 'key'}")
    page.click("#clear")  # a clientside clear_data
    expect(page.locator("#py-show")).to_have_text("None")
    seen.append((page.locator("#cs-show").text_content(), "None"))
    context.close()
    return seen


def test_clientside_reads_and_writes_as_with_dcc_store(serve, browser, tmp_path):
    with_dcc = steps(serve, browser, tmp_path / "dcc", use_dcc=True)
    with_stash = steps(serve, browser, tmp_path / "stash", use_dcc=False)
    assert with_stash == with_dcc


def patched(serve, browser, tmp_path, use_dcc: bool) -> list[str]:
    app = clientside_app.make_app(f"sqlite:///{tmp_path}/stash.db", use_dcc)
    context = browser.new_context()
    page = context.new_page()
    page.goto(serve(app).url)
    expect(page.locator("#py-show")).to_contain_text("'n': 0")
    seen = []
    for n in (1, 2):
        page.click("#inc")
        page.click("#patch")
        expect(page.locator("#py-show")).to_contain_text(f"'patched': {n}")
        expect(page.locator("#py-show")).to_contain_text(f"'n': {n}")
        seen.append(page.locator("#py-show").text_content())
    context.close()
    return seen


@pytest.mark.skipif(DASH < (3, 3), reason="dash_clientside.Patch arrived in Dash 3.3")
def test_a_clientside_patch_applies_as_with_dcc_store(serve, browser, tmp_path):
    with_dcc = patched(serve, browser, tmp_path / "dcc", use_dcc=True)
    assert patched(serve, browser, tmp_path / "stash", use_dcc=False) == with_dcc


@pytest.mark.parametrize("server", ALL_SERVERS)
def test_the_browser_holds_tokens_after_clientside_writes(served_app, page, server):
    """The `_dash-stash/read` and `/write` routes on every server."""
    page.goto(served_app(clientside_app, server))
    expect(page.locator("#cs-show")).to_contain_text('"n":0')
    page.click("#inc")
    expect(page.locator("#cs-show")).to_contain_text('"n":1')  # one write, then the next:
    page.keyboard.press("k")  # overlapping, the two would be a true conflict on "n"
    expect(page.locator("#py-show")).to_have_text("{'0': 1, 'n': 100, 'from': 'key'}")
    held = page.evaluate("() => window.dash_component_api.getLayout('s').props.data")
    assert held.startswith("ds1.")


def test_clientside_seed_callbacks_under_overlapping_clicks_lose_nothing(serve, page, tmp_path):
    page.goto(serve(clientside_app.make_app(f"sqlite:///{tmp_path}/stash.db")).url)
    expect(page.locator("#names")).to_have_text("None None")
    for n in range(1, 6):  # each click sets both names: both clientside writers overlap
        page.click("#load_data")
        expect(page.locator("#names")).to_have_text(f"Mickael{n} Jackson{n}")
