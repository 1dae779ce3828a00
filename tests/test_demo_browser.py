"""The demo gallery in a real browser, and the `dash-stash` command against a SQLite file."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from dash_stash.backends import StoreKey, open_backend
from dash_stash.demo.app import make_app
from dash_stash.engine import Replace, StashEngine

CLICKS = 5


@pytest.fixture
def demo(serve, tmp_path):
    return serve(make_app(f"sqlite:///{tmp_path}/stash.db"))


def click_and_count_losses(page, side: str) -> int:
    """Click one side's "load data" CLICKS times, each once the last has settled."""
    lost = page.locator(f"#{side}-lost")
    for n in range(1, CLICKS + 1):
        page.click(f"#{side}-load")
        expect(lost).to_contain_text(f" of {n}")
    return int(re.search(r"(\d+) of", lost.inner_text()).group(1))


@pytest.mark.browser
def test_seed_side_by_side(page, demo):
    page.goto(demo.url)
    assert click_and_count_losses(page, "stash") == 0
    expect(page.locator("#stash-show")).to_contain_text(f'"first_name": "Mickael{CLICKS}"')
    expect(page.locator("#stash-show")).to_contain_text(f'"last_name": "Jackson{CLICKS}"')
    # the whole point of the demo: the same callbacks on dcc.Store do lose names
    assert click_and_count_losses(page, "dcc") >= 1


@pytest.mark.browser
def test_todo_list_survives_reload_and_restart(browser, context, page, demo):
    items, done = page.locator("#todo-list li.todo"), page.locator("#todo-list li.done")
    page.goto(demo.url)
    expect(page.locator("#todo-list")).to_contain_text("nothing to do")
    page.fill("#todo-new", "buy milk")
    page.click("#todo-add")
    expect(items).to_have_count(1)
    page.fill("#todo-new", "write tests")
    page.press("#todo-new", "Enter")
    expect(items).to_have_count(2)
    items.filter(has_text="buy milk").locator("button").first.click()  # toggle
    expect(done).to_have_text(re.compile("buy milk"))

    page.reload()
    expect(items).to_have_count(2)
    expect(done).to_have_count(1)
    expect(done).to_have_text(re.compile("buy milk"))

    # a browser restart: same cookie and localStorage, new browser context
    restarted = browser.new_context(storage_state=context.storage_state())
    try:
        again = restarted.new_page()
        again.goto(demo.url)
        again_items = again.locator("#todo-list li.todo")
        expect(again_items).to_have_count(2)
        again_items.filter(has_text="write tests").locator("button").last.click()  # delete
        expect(again_items).to_have_count(1)
    finally:
        restarted.close()


@pytest.mark.browser
def test_table_summary(page, demo):
    page.goto(demo.url)
    page.click("#table-summarize")
    summary = page.locator("#table-summary")
    expect(summary).to_contain_text("100,000 rows")
    expect(summary).to_contain_text("c9 9.5")  # column c<i> holds i + uniform(0, 1)
    sent = int(re.search(r"browser sent ([\d,]+) bytes", summary.inner_text())[1].replace(",", ""))
    assert sent < 5_000  # a token, not the 24 MB table


# ---- the dash-stash command ------------------------------------------------------------------


def cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dash_stash.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_inspect_and_sweep(tmp_path):
    url = f"sqlite:///{tmp_path}/stash.db"
    engine = StashEngine(open_backend(url))
    cart = StoreKey("shop/", "a" * 32, "local", "cart")
    engine.commit(cart, Replace({"items": ["apple"]}), ttl=3600, writer="add_item")
    engine.commit(cart, Replace({"items": ["apple", "pear"]}), ttl=3600, writer="add_item")
    engine.commit(
        StoreKey("shop/", "b" * 32, "tab-x", "old"), Replace([1]), ttl=0.01, writer="gone_soon"
    )
    engine.backend.close()
    time.sleep(0.05)

    listed = cli("inspect", "--backend", url, "--namespace", "shop/", cwd=tmp_path)
    assert cli("inspect", "--backend", url, cwd=tmp_path).stdout == listed.stdout  # all apps
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "/local/cart" in line)
    assert row.split()[:3] == ["shop/", f"{'a' * 32}/local/cart", "2"]
    assert "add_item" in row
    assert "gone_soon" not in listed.stdout  # expired: not listed

    shown = cli("inspect", "--backend", url, "--namespace", "shop/", "--show", "cart", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert '"pear"' in shown.stdout
    assert re.search(r"v2 .* add_item", shown.stdout) and re.search(r"v1 .* add_item", shown.stdout)

    swept = cli("sweep", "--backend", url, cwd=tmp_path)
    assert (swept.returncode, swept.stdout.strip()) == (0, "swept 1 expired store")


@pytest.mark.parametrize(
    "args, says",
    [
        (["inspect", "--backend", "nosuch://x", "--namespace", "a/"], "unknown backend URL"),
        (["sweep", "--backend", "sqlite:///missing/stash.db"], "no SQLite file"),
        (["inspect", "--backend", "sqlite:///stash.db", "--show", "nothing"], "no live store"),
    ],
)
def test_cli_user_errors_are_one_line(tmp_path, args, says):
    open_backend(f"sqlite:///{tmp_path}/stash.db").close()
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.browser
def test_background_job_fills_its_store_while_the_bar_moves(page, demo):
    page.goto(demo.url)
    expect(page.locator("#bg-show")).to_have_text("0 rows")
    page.click("#bg-fill")
    expect(page.locator("#bg-bar")).not_to_have_attribute("value", "0")
    expect(page.locator("#bg-show")).to_have_text("10 rows; last: fill 1, row 10", timeout=30_000)


@pytest.mark.browser
def test_shared_board_shows_each_visitors_notes_on_the_others_page(browser, demo):
    one, two = browser.new_context().new_page(), browser.new_context().new_page()
    try:
        for page in (one, two):
            page.goto(demo.url)
            expect(page.locator("#board-wall")).to_contain_text("the board is empty")
        one.fill("#board-new", "from one")
        one.press("#board-new", "Enter")
        two.fill("#board-new", "from two")
        two.click("#board-add")
        for page in (one, two):  # each shows the other's note without a click
            expect(page.locator(".board-note")).to_have_count(2)
            expect(page.locator("#board-wall")).to_contain_text("from one")
            expect(page.locator("#board-wall")).to_contain_text("from two")
        two.locator(".board-note", has_text="from one").locator("button").click()
        expect(one.locator(".board-note")).to_have_count(1)
        expect(one.locator("#board-wall")).not_to_contain_text("from one")
    finally:
        one.context.close()
        two.context.close()
