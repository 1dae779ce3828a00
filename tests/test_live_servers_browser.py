"""Live updates on Dash's FastAPI (uvicorn) and Quart (hypercorn) servers: two browsers on
one shared board, each page shows the other's notes without a click of its own.

There the page's live stream is held, as on Flask, but served natively async: it awaits
the next change on the server's event loop, holding no thread (tests/test_live_asgi_http.py
checks that over HTTP, with more open pages than the thread pool has threads).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import ASGI_SERVERS
from tests.test_live_asgi_http import wait_watching

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def board_url(dash_server, tmp_path):
    def start(server: str) -> str:
        env = {"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db"}
        return dash_server(server, "board_servers_app:create_server", env=env).url

    return start


@pytest.mark.parametrize("server", ASGI_SERVERS)
def test_open_pages_follow_each_others_notes(board_url, browser, server):
    url = board_url(server)
    one, two = browser.new_context().new_page(), browser.new_context().new_page()
    try:
        for page in (one, two):
            page.goto(url)
            expect(page.locator("#wall")).to_have_text("(empty)")
        # each page holds its stream open (it does not poll)
        assert wait_watching(url, lambda count: count[0] == 2)[0] == 2
        one.fill("#note", "from one")
        one.click("#add")
        expect(two.locator("#wall")).to_have_text("from one")  # two did not click
        two.fill("#note", "from two")
        two.click("#add")
        expect(one.locator("#wall")).to_have_text("from one\nfrom two")
        expect(two.locator("#wall")).to_have_text("from one\nfrom two")
    finally:
        one.context.close()
        two.context.close()
