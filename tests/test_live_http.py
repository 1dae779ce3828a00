"""The live route `POST _dash-stash/live` over HTTP (issue 13): who hears of which change,
catching up after a reconnect, coalescing bursts, and what a closed page leaves behind.

Each `DashClient` is one browser (its cookie jar); `Events` reads one page's event stream.
Real werkzeug server in threads (it holds streams, as gunicorn's gthread does), real SQLite.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import socket
import sys
import threading
import time

import pytest

from dash_stash.backends import StoreKey
from dash_stash.engine import Replace
from tests.apps.live_app import MEMBERS, make_app
from tests.conftest import ROOT, ProcessServer
from tests.support.dash_client import DashClient
from tests.support.live import add, add_note, board, browser, team_value
from tests.support.net import free_port

pytestmark = pytest.mark.integration

LIVE = "/_dash-stash/live"


class Events:
    """One page's live stream, read on a thread: `next()` is the next event's stores."""

    def __init__(self, c: DashClient, stores: list[dict]) -> None:
        self.response = c.http.post(c.url + LIVE, json={"stores": stores}, stream=True, timeout=30)
        self.status = self.response.status_code
        self.events: queue.Queue = queue.Queue()
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines():
                if line.startswith(b"data: "):
                    self.events.put(json.loads(line[6:])["stores"])
        except Exception:  # closed by the test
            pass
        self.events.put(None)  # the stream ended

    def next(self, timeout: float = 15.0) -> list[dict] | None:
        return self.events.get(timeout=timeout)

    def quiet_for(self, seconds: float) -> bool:
        """Did no event come within `seconds`?"""
        try:
            event = self.events.get(timeout=seconds)
        except queue.Empty:
            return True
        return event is None

    def close(self) -> None:
        """The page goes away: its connection closes at once (as a closed tab's does), even
        while the reader thread waits on it."""
        connection = self.response.raw.connection
        if connection is not None and connection.sock is not None:
            connection.sock.shutdown(socket.SHUT_RDWR)
        self.response.close()


def watch(c: DashClient, *ids: str) -> Events:
    return Events(c, [{"id": i, "token": c.prop(i, "data")} for i in ids])


def version_of(token: str) -> int:
    """The version a token was minted for (its payload is signed, not secret)."""
    body = token[len("ds1.") :].split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))[3]


@pytest.fixture
def app(serve, tmp_path):
    dash_app = make_app(f"sqlite:///{tmp_path / 'stash.db'}", "live_http")
    # a ping every half second: a stream the test closes ends at its next ping
    dash_app._dash_stash.live.heartbeat = 0.5
    dash_app.url = serve(dash_app).url
    return dash_app


def test_a_write_by_another_user_reaches_an_open_page_as_a_fresh_token_of_its_own(app):
    alice, bob = browser(app.url), browser(app.url)
    events = watch(alice, "board")
    try:
        add(bob, 1, "bob")
        (update,) = events.next()
        assert update["id"] == "board" and version_of(update["token"]) == 1
        # the token is Alice's: reading with it shows Bob's write
        assert board(alice, update["token"]) == ["bob-1"]
    finally:
        events.close()


def test_a_commit_outside_any_request_reaches_open_pages(app):
    """A background job, a `dash_stash.restore` from a script, another process: anything
    that commits through the engine (here: straight to the backend key)."""
    alice = browser(app.url)
    events = watch(alice, "board")
    try:
        stash = app._dash_stash
        key = StoreKey(stash.namespace, "shared", "app", "board")
        stash.engine.commit(key, Replace(["from a job"]), ttl=60)
        (update,) = events.next()
        assert board(alice, update["token"]) == ["from a job"]
    finally:
        events.close()


def test_a_page_outside_the_group_is_never_notified(app):
    red, teammate, blue = browser(app.url, "red"), browser(app.url, "red"), browser(app.url, "blue")
    red_events, blue_events = watch(red, "team"), watch(blue, "team")
    try:
        add_note(teammate, teammate.prop("team", "data"), 1, "mate").raise_for_status()
        (update,) = red_events.next()
        assert team_value(red, update["token"]) == {"notes": ["mate-1"]}
        assert blue_events.quiet_for(1.5)  # another team's commit: nothing
    finally:
        red_events.close()
        blue_events.close()


def test_another_browser_replaying_a_token_watches_nothing(app):
    red, mallory = browser(app.url, "red"), browser(app.url, "blue")
    stolen = [{"id": "team", "token": red.prop("team", "data")}]
    assert Events(mallory, stolen).status == 204  # not her token: nothing to watch
    # with red's dash-stash cookie too, but her own login: still not her group's store
    cookie = next(c for c in red.http.cookies if c.name.startswith("dash_stash"))
    mallory.http.cookies.set(cookie.name, cookie.value, domain=cookie.domain, path="/")
    assert Events(mallory, stolen).status == 204
    nobody = browser(app.url)  # in no group
    assert Events(nobody, [{"id": "team", "token": nobody.prop("team", "data")}]).status == 204
    r = nobody.http.post(app.url + LIVE, json={"stores": "junk"})
    assert r.status_code == 400


def test_a_session_store_is_heard_of_by_its_own_page_only(app):
    user = browser(app.url)
    own = watch(user, "mine")
    other_tab = DashClient.__new__(DashClient)  # a second tab of the same browser
    other_tab.url, other_tab.http = user.url, user.http
    other_tab.layout = user.http.get(app.url + "/_dash-layout").json()
    other_tab.callbacks = user.callbacks
    other = watch(other_tab, "mine")
    try:
        cb = user.callback("mine.")
        r = user.call(
            cb, {("mine-add", "n_clicks"): 1, ("mine", "data"): user.prop("mine", "data")}
        )
        r.raise_for_status()
        (update,) = own.next()
        assert update["id"] == "mine" and version_of(update["token"]) == 1
        assert other.quiet_for(1.5)
    finally:
        own.close()
        other.close()


def test_a_page_that_reconnects_with_an_old_token_catches_up_at_once(app):
    alice, bob = browser(app.url), browser(app.url)
    old = alice.prop("board", "data")  # version 0: before any write
    for n in range(1, 4):
        add(bob, n, "bob")
    events = Events(alice, [{"id": "board", "token": old}])
    try:
        (update,) = events.next()
        assert version_of(update["token"]) == 3
    finally:
        events.close()


def test_a_burst_of_commits_becomes_few_events_ending_at_the_latest(app):
    app._dash_stash.live.interval = 2.0
    alice = browser(app.url)
    stash = app._dash_stash
    key = StoreKey(stash.namespace, "shared", "app", "board")
    events = watch(alice, "board")
    try:
        for n in range(20):
            stash.engine.commit(key, Replace([n]), ttl=60)
        seen = [version_of(events.next()[0]["token"])]
        while seen[-1] != 20:
            seen.append(version_of(events.next()[0]["token"]))
        assert len(seen) <= 3, seen  # 20 commits within one or two intervals
    finally:
        events.close()


def test_a_closed_page_holds_nothing_on_the_server_after_a_heartbeat(app):
    hub = app._dash_stash.live.hub
    alice = browser(app.url)
    events = watch(alice, "board", "mine")
    deadline = time.monotonic() + 10
    while hub.watching() != (1, 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hub.watching() == (1, 2)
    events.close()  # the page goes away without a word
    deadline = time.monotonic() + 15
    while hub.watching() != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hub.watching() == (0, 0)


def test_on_sync_workers_the_route_answers_at_once_and_the_page_asks_again(tmp_path):
    """gunicorn's default sync worker serves one request at a time: a held stream would
    block it, so the route answers what changed (if anything) at once and ends."""

    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}"]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "tests" / "apps"),
        "LIVE_APP_BACKEND": f"sqlite:///{tmp_path / 'stash.db'}",
    }
    server = ProcessServer([*argv, "live_app:server"], port, env, ROOT)
    try:
        alice, bob = browser(server.url), browser(server.url)
        body = {"stores": [{"id": "board", "token": alice.prop("board", "data")}]}
        quiet = alice.http.post(server.url + LIVE, json=body)
        # ended at once: nothing new, and no ping (a held stream pings while it waits)
        assert quiet.status_code == 200 and quiet.text == "retry: 1000\n\n"
        add(bob, 1, "bob")
        caught = alice.http.post(server.url + LIVE, json=body)
        (line,) = [x for x in caught.text.splitlines() if x.startswith("data: ")]
        assert version_of(json.loads(line[6:])["stores"][0]["token"]) == 1
    finally:
        server.stop()


def test_a_page_removed_from_its_group_stops_hearing_of_it_at_the_next_change(app):
    def member(user: str, room: str) -> DashClient:
        c = browser(app.url)
        c.http.get(f"{app.url}/join", params={"user": user, "room": room}).raise_for_status()
        c.layout = c.http.get(app.url + "/_dash-layout").json()
        return c

    def bump(c: DashClient, n: int) -> None:
        token = c.prop("room", "data")
        c.call(c.callback("room."), {("room-add", "n_clicks"): n, ("room", "data"): token})

    ann, bob = member("ann", "r1"), member("bob", "r1")
    events = watch(ann, "room")
    try:
        bump(bob, 1)
        assert version_of(events.next()[0]["token"]) == 1
        MEMBERS["ann"] = "r2"  # an admin moves ann out of r1, her page still open
        bump(bob, 2)
        assert events.next() is None  # the stream ended instead of telling her
    finally:
        events.close()
        MEMBERS.clear()
