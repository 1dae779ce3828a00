"""`storage_type="app"` and `group=` over HTTP (issue 13): one value every session shares,
one value per group, and attacks on the group's privacy: another user's token or cookie, a
token kept after leaving the group, a forged login, a request in no group.

Real werkzeug server in threads, real SQLite file; each `DashClient` is one browser.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest

from tests.apps.live_app import make_app
from tests.support.dash_client import DashClient
from tests.support.live import add, add_note, board, browser, team_value

pytestmark = pytest.mark.integration


@pytest.fixture
def app_url(serve, tmp_path) -> str:
    return serve(make_app(f"sqlite:///{tmp_path / 'stash.db'}", "shared_http")).url


# ---- app: one value for everyone --------------------------------------------------------------


def test_an_app_store_is_one_value_every_session_reads_and_writes(app_url):
    alice, bob = browser(app_url), browser(app_url)
    add(alice, 1, "alice")
    add(bob, 1, "bob")
    # each reads with its own layout token (version of its page load): both see both writes
    assert board(alice, alice.prop("board", "data")) == ["alice-1", "bob-1"]
    assert board(bob, bob.prop("board", "data")) == ["alice-1", "bob-1"]
    # a page loaded now starts at the latest version
    carol = browser(app_url)
    assert board(carol, carol.prop("board", "data")) == ["alice-1", "bob-1"]


def test_concurrent_writers_from_many_browsers_lose_no_item(app_url):
    clients = [browser(app_url) for _ in range(4)]
    errors: list[BaseException] = []

    def write(c: DashClient, who: str) -> None:
        try:
            for n in range(1, 11):
                add(c, n, who)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c, f"u{i}")) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seen = board(clients[0], clients[0].prop("board", "data"))
    assert sorted(seen) == sorted(f"u{i}-{n}" for i in range(4) for n in range(1, 11))


def test_a_shared_token_is_still_bound_to_the_session_that_received_it(app_url, caplog):
    alice, mallory = browser(app_url), browser(app_url)
    token = add(alice, 1, "alice")
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        # Mallory replays Alice's token: refused (not hers), she reads the app value anyway,
        # as every session may; the token itself gives her nothing more
        assert board(mallory, token) == ["alice-1"]
    assert "bad signature" in caplog.text


def test_the_backend_keeps_app_values_under_no_session(app_url, tmp_path):
    alice = browser(app_url)
    add(alice, 1, "alice")
    with sqlite3.connect(tmp_path / "stash.db") as conn:
        rows = conn.execute("SELECT session, scope FROM keys WHERE store_id = 'board'").fetchall()
    assert rows == [("shared", "app")]


# ---- group: one value per group, private to it ---------------------------------------------------


def test_a_group_store_is_shared_within_the_group_only(app_url):
    red1, red2, blue = browser(app_url, "red"), browser(app_url, "red"), browser(app_url, "blue")
    add_note(red1, red1.prop("team", "data"), 1, "red1").raise_for_status()
    assert team_value(red2, red2.prop("team", "data")) == {"notes": ["red1-1"]}
    assert team_value(blue, blue.prop("team", "data")) == {"notes": []}  # its layout data
    add_note(blue, blue.prop("team", "data"), 1, "blue").raise_for_status()
    assert team_value(red1, red1.prop("team", "data")) == {"notes": ["red1-1"]}


def test_another_users_cookie_and_token_without_their_login_reach_only_your_own_group(
    app_url, caplog
):
    red, mallory = browser(app_url, "red"), browser(app_url, "blue")
    token = red.prop("team", "data")
    add_note(red, token, 1, "red").raise_for_status()
    # Mallory copies red's dash-stash session cookie and token, but has her own login
    stash_cookie = next(c for c in red.http.cookies if c.name.startswith("dash_stash"))
    mallory.http.cookies.set(
        stash_cookie.name, stash_cookie.value, domain=stash_cookie.domain, path="/"
    )
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        assert team_value(mallory, token) == {"notes": []}  # blue's (layout data)
    assert "another group" in caplog.text  # the token verified: the group check refused it
    add_note(mallory, token, 1, "mallory").raise_for_status()
    assert team_value(red, token) == {"notes": ["red-1"]}


def test_a_token_kept_after_leaving_the_group_reaches_it_no_more(app_url, caplog):
    user = browser(app_url, "red")
    red_token = user.prop("team", "data")
    add_note(user, red_token, 1, "red").raise_for_status()
    user.http.get(f"{app_url}/login", params={"team": "blue"}).raise_for_status()
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        assert team_value(user, red_token) == {"notes": []}  # blue's, not red's
    assert "another group" in caplog.text
    add_note(user, red_token, 2, "moved").raise_for_status()  # goes to blue
    stayed = browser(app_url, "red")
    assert team_value(stayed, stayed.prop("team", "data")) == {"notes": ["red-1"]}


def test_a_forged_login_or_none_puts_a_request_in_no_group_which_writes_nothing(
    app_url, tmp_path, caplog
):
    red = browser(app_url, "red")
    add_note(red, red.prop("team", "data"), 1, "red").raise_for_status()
    forger = browser(app_url)
    forger.http.cookies.set("session", red.http.cookies["session"][:-4] + "AAAA")  # edited
    assert team_value(forger, forger.prop("team", "data")) == {"notes": []}
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        r = add_note(forger, forger.prop("team", "data"), 1, "forger")
    assert r.status_code == 500
    assert "in no group of the store" in caplog.text
    with sqlite3.connect(tmp_path / "stash.db") as conn:
        scopes = conn.execute("SELECT scope FROM keys WHERE store_id = 'team'").fetchall()
    assert len(scopes) == 1 and scopes[0][0].startswith("group-")  # red's only
    assert team_value(red, red.prop("team", "data")) == {"notes": ["red-1"]}
