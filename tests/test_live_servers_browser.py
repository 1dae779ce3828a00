"""Live updates on Dash's FastAPI (uvicorn) and Quart (hypercorn) servers: two browsers on
one shared board, each page shows the other's notes without a click of its own.

There the live route answers at once instead of holding a stream (a held one would keep a
worker thread per open page), so a page asks again each second and catches up by version.
"""

from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import ASGI_SERVERS
from tests.support.dash_client import DashClient

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


@pytest.mark.parametrize("server", ASGI_SERVERS)
def test_the_live_route_answers_at_once_and_catches_a_page_up(board_url, server):
    url = board_url(server)
    alice, bob = DashClient(url), DashClient(url)
    old = alice.prop("board", "data")
    watch = {"stores": [{"id": "board", "token": old}]}

    def events(c: DashClient, body: dict) -> list[dict]:
        reply = c.http.post(f"{url}/_dash-stash/live", json=body, timeout=10)
        assert reply.status_code == 200 and reply.headers["content-type"].startswith(
            "text/event-stream"
        )
        lines = reply.text.splitlines()
        assert lines[0] == "retry: 1000"  # not held: ask again in a second
        return [json.loads(line[6:])["stores"] for line in lines if line.startswith("data: ")]

    assert events(alice, watch) == []  # nothing newer than what the page shows
    add = bob.callback("board.data")
    reply = bob.call(
        add,
        {
            ("add", "n_clicks"): 1,
            ("note", "value"): "hi",
            ("board", "data"): bob.prop("board", "data"),
        },
    )
    assert reply.status_code == 200
    (caught,) = events(alice, watch)
    assert [s["id"] for s in caught] == ["board"] and caught[0]["token"] != old
    # the fresh token is Alice's: her page reads the note with it, Bob's cookie cannot
    show = alice.callback("wall.children")
    seen = alice.call(show, {("board", "data"): caught[0]["token"]})
    assert "hi" in seen.text
    # a stranger without a session watches nothing
    stranger = requests.post(f"{url}/_dash-stash/live", json=watch, timeout=10)
    assert stranger.status_code in (204, 400)
