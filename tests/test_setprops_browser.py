"""Writes that do not come back as a callback's return value: `dash.set_props` from sync and
async server callbacks commits on the server, the browser gets a token, reads see the value."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.apps import setprops_app

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def run(serve, browser, tmp_path, use_dcc: bool) -> list[str]:
    url = serve(setprops_app.make_app(f"sqlite:///{tmp_path}/stash.db", use_dcc)).url
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    seen = []
    expect(page.locator("#other-show")).to_have_text("None")
    for n in (1, 2):
        page.click("#stamp")
        expect(page.locator("#done")).to_have_text(f"stamp {n}")
        expect(page.locator("#other-show")).not_to_have_text(seen[-1] if seen else "None")
        seen.append(page.locator("#other-show").text_content())
    page.click("#clear")
    expect(page.locator("#done")).to_have_text("cleared")
    expect(page.locator("#other-show")).to_have_text("None")
    page.fill("#first_name", "Ada")
    expect(page.locator("#show")).to_have_text("Ada None")
    page.fill("#last_name", "Lovelace")
    expect(page.locator("#show")).to_have_text("Ada Lovelace")
    held = page.evaluate("() => sessionStorage.getItem('user_data')")
    page.reload()  # session scope: the value survives a reload
    expect(page.locator("#show")).to_have_text("Ada Lovelace")
    seen.append(held)
    context.close()
    return seen


def test_set_props_reads_back_as_with_dcc_store(serve, browser, tmp_path):
    *with_dcc, dcc_held = run(serve, browser, tmp_path / "dcc", use_dcc=True)
    *with_stash, stash_held = run(serve, browser, tmp_path / "stash", use_dcc=False)
    assert (
        with_stash
        == with_dcc
        == [
            "{'0': 1, 'n': 1, 'day': '2024-05-01'}",  # JavaScript puts index keys first
            "{'0': 1, 'n': 2, 'day': '2024-05-02'}",
        ]
    )
    assert "Lovelace" in dcc_held
    assert stash_held.startswith('"ds1.') and "Lovelace" not in stash_held


def test_set_props_callbacks_under_overlapping_clicks_lose_nothing(serve, page, tmp_path):
    page.goto(serve(setprops_app.make_app(f"sqlite:///{tmp_path}/stash.db")).url)
    expect(page.locator("#show")).to_have_text("None None")
    for n in range(1, 6):  # each click sets both names at once: two writers overlap
        page.click("#load_data")
        expect(page.locator("#show")).to_have_text(f"Mickael{n} Jackson{n}")
