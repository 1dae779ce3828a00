"""Attacks on the routes issues 11 and 14 added (`_dash-stash/read`, `/write`, the inspector)
against the privacy and quota rules of issue 8, over HTTP against a real server and real
SQLite files: a session filling the disk through history, restore past the quota, crafted
bodies, cross-site posts, writes without a session."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
import requests
from dash import Dash, Input, Output, html

import dash_stash
from tests.apps.routes_app import make_app as quota_app
from tests.support.dash_client import DashClient
from tests.support.quota import KB, big_then_small, burst, write

pytestmark = pytest.mark.integration


def session_bytes(db: Path) -> int:
    """Bytes of every version the backend keeps for browser sessions (latest and history)."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT coalesce(sum(size), 0) FROM versions WHERE session != ''"
        ).fetchone()[0]


def test_history_counts_against_the_session_quota(serve, tmp_path, caplog):
    """0.2 before this fix: the quota counted only latest values, so writing a big value and
    then a small one in fresh instances (one request each, no page load needed: a write
    without a token gets a fresh instance) kept every big one in history, uncounted:
    6 x 200 kB = 1.2 MB kept in a 300 kB quota."""
    db = tmp_path / "stash.db"
    server = serve(quota_app(f"sqlite:///{db}", "hist_quota", max_session_bytes=300 * KB))
    c = DashClient(server.url)
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        codes = big_then_small(c, 6)
    assert codes[0] == 200 and 400 in codes
    assert session_bytes(db) <= 300 * KB + 16 * KB  # the quota, give or take small values
    assert "max_session_bytes" in caplog.text


def test_restore_cannot_take_a_session_over_its_quota(serve, tmp_path):
    """`dash_stash.restore` in an undo callback commits a copy of an old version: before the
    fix it skipped the quota check every other write makes."""
    db = tmp_path / "stash.db"
    server = serve(quota_app(f"sqlite:///{db}", "restore_quota", max_session_bytes=500 * KB))
    c = DashClient(server.url)
    t1 = write(c, "s", c.prop("s", "data"), "x" * (200 * KB)).json()["value"]  # version 1
    t2 = write(c, "s", t1, "small").json()["value"]  # version 2; version 1 is history
    assert write(c, "t", c.prop("t", "data"), "z" * (200 * KB)).ok
    r = c.call(c.callback("s.data"), {("undo", "n_clicks"): 1, ("s", "data"): t2})
    assert r.status_code == 500  # QuotaError, as for any write over the quota
    assert session_bytes(db) <= 500 * KB


def test_writes_racing_each_other_cannot_pass_the_session_quota_together(serve, tmp_path):
    """Before the fix the quota was checked before the commit, on the usage of that moment:
    sixteen 280 kB writes released at once each saw an empty session, and up to nine of
    them committed, 2.5 MB in a 300 kB quota. Now the backend checks it again inside the
    commit (`backends.Check`): one commits, the others are refused. (Four sessions in turn:
    on main a burst of sixteen did not always overlap.)"""
    db = tmp_path / "stash.db"
    server = serve(quota_app(f"sqlite:///{db}", "race_quota", max_session_bytes=300 * KB))
    rounds = [burst(DashClient(server.url), 16, 280 * KB) for _ in range(4)]
    assert rounds == [[200] + [400] * 15] * 4
    assert session_bytes(db) <= 4 * 300 * KB


def test_crafted_route_bodies_get_a_400_not_a_500(serve, tmp_path):
    server = serve(quota_app(f"sqlite:///{tmp_path}/s.db", "crafted"))
    c = DashClient(server.url)
    token = c.prop("s", "data")
    read = c.url + "/_dash-stash/read"
    cases = [
        (c.url + "/_dash-stash/write", {"id": ["s"], "prop": "data", "token": None, "value": 1}),
        (c.url + "/_dash-stash/write", {"id": 5, "prop": "data", "token": token, "value": 1}),
        (read, {"callback": "out.children", "stores": [1]}),
        (read, {"callback": "out.children", "stores": [{"id": ["s"], "token": token}]}),
    ]
    for url, body in cases:
        r = c.http.post(url, json=body)
        assert r.status_code == 400, (body, r.status_code, r.text[:200])
        assert "error" in r.json()


def test_a_cross_site_form_or_text_post_to_the_write_route_commits_nothing(serve, tmp_path):
    """A cross-site page can post a form or `text/plain` without a CORS preflight (and a
    same-site one even with the cookie): the route takes only `application/json`, which a
    cross-origin page cannot send without the app's consent."""
    db = tmp_path / "stash.db"
    server = serve(quota_app(f"sqlite:///{db}", "csrf"))
    c = DashClient(server.url)
    body = json.dumps({"id": "s", "prop": "data", "token": c.prop("s", "data"), "value": "evil"})
    for kind, data in (("text/plain", body), ("application/x-www-form-urlencoded", body)):
        r = c.http.post(c.url + "/_dash-stash/write", data=data, headers={"Content-Type": kind})
        assert r.status_code == 400
    r = c.http.post(c.url + "/_dash-stash/write", data={"id": "s", "prop": "data", "value": "e"})
    assert r.status_code == 400
    assert session_bytes(db) == 0


def test_a_cookieless_clear_is_refused_like_any_write(serve, tmp_path, caplog):
    """Without a valid session cookie a write commits nothing and says so (400), `clear_data`
    included: before, it answered 200 as if it had cleared the store."""
    server = serve(quota_app(f"sqlite:///{tmp_path}/s.db", "clear"))
    c = DashClient(server.url)
    token = c.prop("s", "data")
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        r = requests.post(
            server.url + "/_dash-stash/write",
            json={"id": "s", "prop": "clear_data", "token": token, "value": True},
        )
    assert r.status_code == 400 and "no valid session cookie" in r.text
    assert write(c, "s", token, True, prop="clear_data").ok  # with its cookie it works


def test_session_ids_stay_out_of_route_answers_and_logs(serve, tmp_path, caplog):
    db = tmp_path / "stash.db"
    server = serve(quota_app(f"sqlite:///{db}", "ids", max_session_bytes=10 * KB))
    c = DashClient(server.url)
    (cookie,) = list(c.http.cookies)
    with caplog.at_level(logging.DEBUG, logger="dash_stash"):
        answers = [
            write(c, "s", c.prop("s", "data"), "v"),
            write(c, "s", None, "x" * (20 * KB)),  # over the quota: an error message
            c.http.post(c.url + "/_dash-stash/read", json={"callback": "x", "stores": []}),
        ]
    with sqlite3.connect(db) as conn:
        (key,) = conn.execute("SELECT DISTINCT session FROM keys WHERE session != ''").fetchone()
    for secret in (cookie.value, cookie.value.split(".")[0], key):
        assert secret not in caplog.text
        assert all(secret not in a.text for a in answers)


def test_the_read_route_gives_another_users_rendered_data_to_nobody(serve, tmp_path):
    """A layout function renders per-user data; Bob, through `_dash-stash/read`, sends
    Alice's token, a junk one, or none at all, and never reads what was rendered for her."""
    app = Dash("per_user_routes")
    dash_stash.init(app, f"sqlite:///{tmp_path}/s.db")

    def layout():
        import flask

        user = flask.request.headers.get("X-User", "-") if flask.has_request_context() else "-"
        return html.Div(
            [dash_stash.Store(id="profile", data={"secret": f"of-{user}"}), html.Div(id="out")]
        )

    app.layout = layout
    app.clientside_callback(
        "function (p) { return JSON.stringify(p); }",
        Output("out", "children"),
        Input("profile", "data"),
    )
    server = serve(app)
    bob = DashClient(server.url, headers={"X-User": "bob"})
    alice = DashClient(server.url, headers={"X-User": "alice"})  # rendered last

    def read(c: DashClient, token) -> requests.Response:
        body = {"callback": "out.children", "stores": [{"id": "profile", "token": token}]}
        return c.http.post(c.url + "/_dash-stash/read", json=body)

    assert read(alice, alice.prop("profile", "data")).json()["values"] == [{"secret": "of-alice"}]
    for token in (alice.prop("profile", "data"), "ds1.W10.junk", None):
        r = read(bob, token)
        assert r.ok and "of-alice" not in r.text and r.json()["values"] == [None]
    # A write without a token starts from no rendered data either (a fresh instance).
    w = write(bob, "profile", None, {"mine": 1}).json()["value"]
    assert read(bob, w).json()["values"] == [{"mine": 1}]


def test_the_new_routes_refuse_a_huge_body_with_or_without_a_length(serve, tmp_path):
    server = serve(quota_app(f"sqlite:///{tmp_path}/s.db", "body"))
    c = DashClient(server.url)
    huge = b'{"id": "s", "prop": "data", "token": null, "value": "' + b"x" * 17_000_000 + b'"}'
    json_type = {"Content-Type": "application/json"}
    for route in ("write", "read", "panel/stores"):
        url = f"{c.url}/_dash-stash/{route}"
        assert c.http.post(url, data=huge, headers=json_type).status_code == 413, route
    # Chunked, with no length: werkzeug stops reading at the limit, so the body is cut
    # short and refused as not JSON (a 400); nothing past 16 MiB is read, nothing committed.
    chunks = (huge[i : i + 1_000_000] for i in range(0, len(huge), 1_000_000))
    r = c.http.post(c.url + "/_dash-stash/write", data=chunks, headers=json_type)
    assert r.status_code in (400, 413)
    assert session_bytes(tmp_path / "s.db") == 0


def test_under_gunicorn_history_quota_and_body_limit_hold_across_workers(gunicorn, tmp_path):
    """As users run it: two gunicorn workers, each request on any of them (no keep-alive);
    the history-quota attack, racing writes and a chunked body over the limit, through
    `_dash-stash/write`."""
    db = tmp_path / "stash.db"
    env = {
        "ROUTES_APP_BACKEND": f"sqlite:///{db}",
        "ROUTES_APP_MAX_SESSION_BYTES": str(300 * KB),
        "DASH_STASH_SECRET": "s" * 32,
    }
    server = gunicorn("routes_app:server", workers=2, env=env)
    c = DashClient(server.url)
    assert big_then_small(c, 4) == [200, 400, 400, 400]
    # Eight writes at once on two processes' threads: one session, one quota between them.
    assert burst(DashClient(server.url), 8, 280 * KB) == [200] + [400] * 7
    kept = session_bytes(db)
    assert kept <= 2 * 300 * KB  # two sessions, each within its quota
    huge = b'{"id": "s", "prop": "data", "token": null, "value": "' + b"x" * 17_000_000 + b'"}'
    chunks = (huge[i : i + 1_000_000] for i in range(0, len(huge), 1_000_000))
    r = c.http.post(
        c.url + "/_dash-stash/write", data=chunks, headers={"Content-Type": "application/json"}
    )
    assert r.status_code in (400, 413)
    assert session_bytes(db) == kept
