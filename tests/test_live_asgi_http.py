"""The live route held on Dash's FastAPI (uvicorn) and Quart (hypercorn) servers, over HTTP.

There a held stream awaits changes on the event loop and takes a pool thread only for a
moment per event, so many open pages (more than uvicorn's 40 pool threads, far more than
Quart's few) leave callbacks and dash-stash's own routes answering; a page that goes away
frees its watch at once (the server's disconnect message), not at the next ping. And the
attacks of tests/test_live_http.py on this code path: another session's token, a forged
one, no cookie, a page outside the group.

One server per kind for the module (`tests/apps/board_servers_app.py`, real SQLite file);
`GET /watching` is its hub's `[open watches, keys watched]`.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest
import requests

from dash_stash.adapter.stream import LiveRoute
from tests.conftest import ASGI_SERVERS, needs_asgi, start_server
from tests.support.dash_client import DashClient
from tests.test_live_http import LIVE, Events, version_of

pytestmark = pytest.mark.integration

PAGES = 60  # more open pages than uvicorn's pool has threads (40)


BOARD = "board_servers_app:create_server"


@pytest.fixture(scope="module", params=ASGI_SERVERS)
def url(request, tmp_path_factory):
    db = tmp_path_factory.mktemp("live-asgi") / "stash.db"
    # streams held 60 s on uvicorn too (not cut every 5 s), so that a freed watch shows
    # the client's disconnect, not the end of a piece
    env = {"DASH_STASH_BACKEND": f"sqlite:///{db}", "BOARD_LONGEST_HOLD": "60"}
    server = start_server(request.param, BOARD, env=env)
    yield server.url
    print(f"--- server {server.url} said:\n{server.stop()}")


def watching(url: str) -> list[int]:
    return requests.get(url + "/watching", timeout=10).json()["watching"]


def wait_watching(
    url: str, expected: list[int] | Callable[[list[int]], bool], seconds: float = 10.0
) -> list[int]:
    """The hub's count once it is `expected` (or passes it, a test of the count), or
    whatever it is after `seconds`."""
    done = expected if callable(expected) else expected.__eq__
    deadline = time.monotonic() + seconds
    while not done(now := watching(url)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return now


def add_note(c: DashClient, n: int) -> requests.Response:
    cb = c.callback("board.data")
    values = {("add", "n_clicks"): n, ("note", "value"): f"note {n}"}
    return c.call(cb, {**values, ("board", "data"): c.prop("board", "data")})


def in_room(url: str, room: str) -> DashClient:
    c = DashClient(url)
    c.http.cookies.set("room", room)
    c.layout = c.http.get(url + "/_dash-layout").json()  # rendered in the room
    return c


def test_many_held_streams_leave_callbacks_and_routes_answering_and_free_when_closed(url):
    alice, bob = DashClient(url), DashClient(url)
    body = [{"id": "board", "token": alice.prop("board", "data")}]
    pages = [Events(alice, body) for _ in range(PAGES)]
    try:
        assert {p.status for p in pages} == {200}
        assert wait_watching(url, [PAGES, 1]) == [PAGES, 1]  # all held, none ended
        # a callback runs, and a dash-stash route answers (its handler ran: the error
        # names what is wrong with the request)
        assert add_note(bob, 1).status_code == 200
        read = bob.http.post(url + "/_dash-stash/read", json={"callback": "x"}, timeout=10)
        assert read.status_code == 400 and "no clientside callback" in read.json()["error"]
        # and every open page hears of the note, through its held stream
        for page in pages:
            (update,) = page.next(timeout=20)
            assert update["id"] == "board" and version_of(update["token"]) == 1
    finally:
        for page in pages:
            page.close()
    # closing the client frees its watch at once (well before the 15 s heartbeat)
    assert wait_watching(url, [0, 0]) == [0, 0]


def test_a_held_stream_is_never_told_of_what_its_session_cannot_read(url):
    alice, bob = DashClient(url), DashClient(url)
    token = alice.prop("board", "data")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for who, sent in (
        (bob.http, token),  # another session's token
        (alice.http, forged),  # a forged one
        (requests.Session(), token),  # no cookie at all
    ):
        reply = who.post(url + LIVE, json={"stores": [{"id": "board", "token": sent}]})
        assert reply.status_code == 204, (reply.status_code, reply.text)
    assert watching(url) == [0, 0]


def test_a_page_outside_the_group_is_never_notified_on_a_held_stream(url):
    ann, bob, eve = in_room(url, "r1"), in_room(url, "r1"), in_room(url, "r2")
    ann_page = Events(ann, [{"id": "room", "token": ann.prop("room", "data")}])
    eve_page = Events(eve, [{"id": "room", "token": eve.prop("room", "data")}])
    try:
        assert wait_watching(url, [2, 2]) == [2, 2]  # two rooms: two keys
        bump = bob.callback("room.data")
        reply = bob.call(
            bump, {("bump", "n_clicks"): 1, ("room", "data"): bob.prop("room", "data")}
        )
        assert reply.status_code == 200
        (update,) = ann_page.next()
        assert update["id"] == "room" and version_of(update["token"]) == 1
        assert eve_page.quiet_for(1.5)  # another room's commit: nothing
        # eve replaying ann's token watches nothing (it is bound to ann's session)
        stolen = eve.http.post(
            url + LIVE, json={"stores": [{"id": "room", "token": update["token"]}]}
        )
        assert stolen.status_code == 204
    finally:
        ann_page.close()
        eve_page.close()
    assert wait_watching(url, [0, 0]) == [0, 0]


def test_a_page_that_reconnects_with_an_old_token_catches_up_with_a_token_of_its_own(url):
    alice, bob = DashClient(url), DashClient(url)
    old = alice.prop("board", "data")
    assert add_note(bob, 1).status_code == 200
    page = Events(alice, [{"id": "board", "token": old}])
    try:
        (update,) = page.next()  # at once: the stream starts with what the page missed
        assert update["id"] == "board" and update["token"] != old
        # the fresh token is Alice's: her page reads the board with it
        seen = alice.call(alice.callback("..wall.children"), {("board", "data"): update["token"]})
        assert "note 1" in seen.text
    finally:
        page.close()


@needs_asgi
def test_uvicorn_stops_while_a_page_holds_its_stream(tmp_path):
    """uvicorn waits for open responses before it stops (Ctrl+C, SIGTERM, each `--reload`),
    with no limit by default: a held stream there ends after 5 s and the page asks again,
    so the server stops long before a stream's hold (60 s) would end."""
    server = start_server(
        "fastapi", BOARD, env={"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/s.db"}
    )
    alice = DashClient(server.url)
    page = Events(alice, [{"id": "board", "token": alice.prop("board", "data")}])
    try:
        assert wait_watching(server.url, [1, 1]) == [1, 1]
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=LiveRoute.hold / 2)  # TimeoutExpired: still waiting
        assert page.next() is None  # the stream ended (the page would ask again)
    finally:
        page.close()
        server.stop()
