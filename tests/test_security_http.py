"""Attacks on a running app over HTTP (issue 8): each test acts as another user, a client
without cookies, a crafted request, a planted cookie or a reader of the backend's files, and
checks what they get. Real servers (werkzeug threads, gunicorn processes), real SQLite files.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dash
import flask
import pytest
import requests
from dash import ALL, Dash, Input, Output, Patch, html
from werkzeug.middleware.proxy_fix import ProxyFix

import dash_stash
from dash_stash.adapter import integration
from tests.support.dash_client import DashClient
from tests.support.vault import API_KEY, add_note, output, show_notes, vault_app

pytestmark = pytest.mark.integration


# ---- apps ------------------------------------------------------------------------------------


def per_user_app(backend: str) -> Dash:
    """A layout *function* that renders each user's own data into a Store (the user is
    named by a header, as a login proxy would)."""
    app = Dash("per_user")
    dash_stash.init(app, backend)

    def layout():
        user = flask.request.headers.get("X-User", "nobody") if flask.has_request_context() else "-"
        return html.Div(
            [
                dash_stash.Store(id="profile", data={"user": user, "secret": f"secret-of-{user}"}),
                html.Button(id="visit"),
                html.Div(id="out"),
            ]
        )

    app.layout = layout

    @app.callback(Output("out", "children"), Input("profile", "data"))
    def show(profile):
        return json.dumps(profile)

    @app.callback(Output("profile", "data"), Input("visit", "n_clicks"), prevent_initial_call=True)
    def visit(n):  # writes without reading: a hidden State carries the token
        patch = Patch()
        patch["visits"] = n
        return patch

    return app


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "stash.db"


def url_of(db: Path) -> str:
    return f"sqlite:///{db}"


# ---- helpers ---------------------------------------------------------------------------------


def rows(db: Path, sql: str) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def stored_bytes(db: Path) -> int:
    """What the backend holds on disk: the database, its WAL and its value files."""
    files = [db, db.with_name(db.name + "-wal"), *db.with_name(db.name + ".blobs").glob("*")]
    return sum(f.stat().st_size for f in files if f.exists())


def cookie(c: DashClient) -> tuple[str, str]:
    (only,) = list(c.http.cookies)
    return only.name, only.value


# ---- 1. layout data stays with the request that rendered it ----------------------------------


def test_layout_function_data_reaches_only_the_user_it_was_rendered_for(serve, db):
    server = serve(per_user_app(url_of(db)))
    bob = DashClient(server.url, headers={"X-User": "bob"})
    alice = DashClient(server.url, headers={"X-User": "alice"})  # rendered last
    show, visit = bob.callback("out.children"), bob.callback("profile.data")

    def shown(c: DashClient, token) -> str:
        return output(c.call(show, {("profile", "data"): token}), "out", "children")

    # Each user's own token reads their own data, whoever rendered last.
    assert json.loads(shown(bob, bob.prop("profile", "data")))["user"] == "bob"
    assert json.loads(shown(alice, alice.prop("profile", "data")))["user"] == "alice"
    # Bob sends a junk token: he must not start from the last render (Alice's).
    assert json.loads(shown(bob, "ds1.W10.junk")) is None  # a layout function's: None
    # Bob omits the hidden State of the write-only Patch callback (no token at all).
    r = bob.call(visit, {("visit", "n_clicks"): 1})
    assert "secret-of-alice" not in r.text
    # It starts from what was last rendered for *his* session.
    after = json.loads(shown(bob, output(r, "profile", "data")))
    assert after == {"user": "bob", "secret": "secret-of-bob", "visits": 1}
    # A browser that refuses cookies sends its own layout's token: a new session each time.
    stranger = DashClient(server.url, headers={"X-User": "carol"})
    token = stranger.prop("profile", "data")
    stranger.http.cookies.clear()
    assert json.loads(shown(stranger, token)) is None
    # After a secret rotation every open page holds tokens nobody can verify: the same.
    assert json.loads(shown(alice, alice.prop("profile", "data")[:-4] + "AAAA")) is None


def test_without_a_valid_token_a_static_store_reads_its_layout_data(serve, db):
    server = serve(vault_app(url_of(db)))
    c = DashClient(server.url)
    assert show_notes(c, "ds1.W10.junk") == []  # what the static layout gives everyone


def worker_app(backend: str) -> Dash:
    """One worker of a multi-page style app (`suppress_callback_exceptions=True`, a layout
    function, so no worker knows its stores before it renders them): one callback writes a
    secret to a store it does not declare (`set_props`), another as its Output without
    reading it, a third sets a group store it does not declare. The same namespace and
    secret on every worker, as gunicorn's workers or a load balancer's hosts have."""
    app = Dash("workers", suppress_callback_exceptions=True)
    dash_stash.init(app, backend, namespace="workers", secret="w" * 32)
    app.layout = lambda: html.Div(
        [
            dash_stash.Store(id="vault", data={"api_key": "none yet"}),
            dash_stash.Store(id="team", data=None, storage_type="app", group=lambda r: "red"),
            html.Button(id="go"),
            html.Div(id="msg"),
        ]
    )

    @app.callback(Output("msg", "children"), Input("go", "n_clicks"), prevent_initial_call=True)
    def go(n):
        dash.set_props("vault", {"data": {"api_key": API_KEY}})
        return "set"

    @app.callback(Output("vault", "data"), Input("msg", "children"), prevent_initial_call=True)
    def put(msg):
        return {"api_key": API_KEY}

    @app.callback(Output("msg", "title"), Input("msg", "children"), prevent_initial_call=True)
    def team(msg):
        dash.set_props("team", {"data": {"plan": API_KEY}})
        return "team"

    return app


def test_a_store_only_another_worker_rendered_never_gets_its_value_sent_raw(serve, db, caplog):
    """Before the fix a process that had not rendered the page (its layout function ran on
    another worker) did not know `vault` was a dash-stash store, and sent what a callback
    wrote to it (set_props or Output) to the browser as it was: the server-only value in the
    response. Now every process learns the stores another rendered (kept in the backend)."""
    page, other = serve(worker_app(url_of(db))), serve(worker_app(url_of(db)))
    c = DashClient(page.url)  # the page is rendered by the first worker...
    c.url = other.url  # ...and its callbacks are served by the other one
    body = {"output": "msg.children", "outputs": {"id": "msg", "property": "children"}}
    body |= {"inputs": [{"id": "go", "property": "n_clicks", "value": 1}], "state": []}
    r = c.http.post(other.url + "/_dash-update-component", json=body)
    assert r.status_code == 200, r.text
    assert API_KEY not in r.text
    assert r.json()["sideUpdate"]["vault"]["data"].startswith("ds1.")
    put = {"output": "vault.data", "outputs": {"id": "vault", "property": "data"}}
    put |= {"inputs": [{"id": "msg", "property": "children", "value": "set"}], "state": []}
    r = c.http.post(other.url + "/_dash-update-component", json=put)
    assert r.status_code == 200, r.text
    assert API_KEY not in r.text
    assert r.json()["response"]["vault"]["data"].startswith("ds1.")
    # A group store it has not seen: it cannot know its group, so it refuses, never leaks
    team = {"output": "msg.title", "outputs": {"id": "msg", "property": "title"}}
    team |= {"inputs": [{"id": "msg", "property": "children", "value": "set"}], "state": []}
    fresh = serve(worker_app(url_of(db)))
    with caplog.at_level(logging.ERROR):
        r = c.http.post(fresh.url + "/_dash-update-component", json=team)
    assert r.status_code == 500
    assert API_KEY not in r.text
    said = "\n".join(str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)
    assert "callback 'team', store 'team'" in said  # what to fix, and where
    assert "validation_layout" in said


def test_a_worker_that_never_rendered_a_store_serves_the_pages_hidden_state(serve, db):
    """The page's callbacks come from the worker that rendered it, with a hidden State for
    `vault` (written by `put` without reading it); before the fix another worker, which did
    not know `vault`, refused every such request (400: more states than the callback has).
    Now it learns the store from the token the page sends (signed for this session) and
    wires it as the page's worker did."""
    page, other = serve(worker_app(url_of(db))), serve(worker_app(url_of(db)))
    c = DashClient(page.url)
    cb = c.callback("vault.data")
    assert cb["state"] == [{"id": "vault", "property": "data"}]  # the hidden State
    body = c.body(cb, {("msg", "children"): "set", ("vault", "data"): c.prop("vault", "data")})
    r = c.http.post(other.url + "/_dash-update-component", json=body)
    assert r.status_code == 200, r.text
    token = r.json()["response"]["vault"]["data"]
    assert token.startswith("ds1.") and API_KEY not in r.text
    # Another browser replaying that token teaches a worker nothing (its signature is not
    # for that session): refused, as any state the callback does not have
    stranger = DashClient(page.url)
    replay = c.body(cb, {("msg", "children"): "set", ("vault", "data"): token})
    fresh = serve(worker_app(url_of(db)))
    r = stranger.http.post(fresh.url + "/_dash-update-component", json=replay)
    assert r.status_code == 400 and API_KEY not in r.text


# ---- 2. a callback reads only the stores it declares -----------------------------------------


def test_a_crafted_request_cannot_feed_an_undeclared_store_to_a_callback(serve, db, caplog):
    server = serve(vault_app(url_of(db)))
    c = DashClient(server.url)
    greet = c.callback("greeting.children")
    body = {
        "output": greet["output"],
        "outputs": {"id": "greeting", "property": "children"},
        "inputs": [{"id": "vault", "property": "data", "value": c.prop("vault", "data")}],
        "changedPropIds": ["vault.data"],
        "state": [],
    }
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        r = c.http.post(server.url + "/_dash-update-component", json=body)
    assert API_KEY not in r.text
    assert r.status_code == 400
    assert "refused a request to callback 'greet'" in caplog.text
    # The declared use of the same callback still works.
    legit = c.call(greet, {("name", "value"): "ann"})
    assert output(legit, "greeting", "children") == "hello ann"


def test_a_crafted_wildcard_entry_cannot_name_a_store_outside_its_pattern(serve, db):
    app = Dash("wild")
    dash_stash.init(app, url_of(db))
    app.layout = html.Div(
        [
            dash_stash.Store(id="vault", data={"api_key": API_KEY}),
            *[dash_stash.Store(id={"type": "pub", "index": i}, data=[f"pub{i}"]) for i in (0, 1)],
            html.Div(id="all"),
        ]
    )

    @app.callback(Output("all", "children"), Input({"type": "pub", "index": ALL}, "data"))
    def show_all(values):
        return json.dumps(values)

    server = serve(app)
    c = DashClient(server.url)
    entries = [
        {
            "id": {"index": i, "type": "pub"},
            "property": "data",
            "value": c.prop({"type": "pub", "index": i}, "data"),
        }
        for i in (0, 1)
    ]
    body = {
        "output": "all.children",
        "outputs": {"id": "all", "property": "children"},
        "inputs": [entries],
        "changedPropIds": [],
        "state": [],
    }
    legit = c.http.post(server.url + "/_dash-update-component", json=body)
    assert json.loads(output(legit, "all", "children")) == [["pub0"], ["pub1"]]
    # The server-only vault slipped into the ALL list, by its own id or a look-alike dict id.
    for intruder in ("vault", {"index": 2, "type": "vault"}):
        entry = {"id": intruder, "property": "data", "value": c.prop("vault", "data")}
        body["inputs"] = [[*entries, entry]]
        r = c.http.post(server.url + "/_dash-update-component", json=body)
        assert API_KEY not in r.text
        assert r.status_code == 400


# ---- 3. no anonymous storage growth ----------------------------------------------------------


def test_cookieless_requests_with_junk_tokens_commit_nothing(serve, db, caplog):
    server = serve(vault_app(url_of(db)))
    c = DashClient(server.url)
    c.call(c.callback("greeting.children"), {("name", "value"): "x"}).raise_for_status()
    before = stored_bytes(db)
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        for n in range(20):
            c.http.cookies.clear()
            r = add_note(c, f"ds1.W10.junk{n}", "spam")
            assert r.status_code == 400 and "no valid session cookie" in r.text
    assert stored_bytes(db) - before < 100_000  # 0.1: 20 copies of 200 kB, about 4 MB
    assert rows(db, "SELECT count(*) FROM keys WHERE scope != 'seed' AND scope != 'app'") == [(0,)]
    assert "no valid session cookie" in caplog.text


def test_a_fresh_instance_keeps_no_copy_until_it_really_changes(serve, db):
    server = serve(vault_app(url_of(db)))
    keep = None
    for _ in range(5):  # five page loads, each reads and returns the layout data unchanged
        c = DashClient(server.url)
        keep = keep or c.callback("notes.data", ["keep"])
        r = c.call(keep, {("keep", "n_clicks"): 1, ("notes", "data"): c.prop("notes", "data")})
        assert show_notes(c, output(r, "notes", "data")) == []
    assert rows(db, "SELECT count(*) FROM keys WHERE scope = 'local'") == [(0,)]
    t = add_note(c, c.prop("notes", "data"), "real")  # a real change is kept
    assert show_notes(c, output(t, "notes", "data")) == ["real"]


def test_layout_function_seeds_live_as_long_as_their_store(serve, db, monkeypatch):
    monkeypatch.setattr(integration, "_SEEDS_KEPT", 20, raising=False)
    app = per_user_app(url_of(db))
    server = serve(app)
    for n in range(30):
        DashClient(server.url, headers={"X-User": f"user{n}"})
    stash = app._dash_stash
    assert len(stash._seeded) <= 20  # bounded bookkeeping
    now = time.time()
    left = [e - now for (e,) in rows(db, "SELECT expires FROM keys WHERE scope = 'seed'")]
    # One seed per render (each rendered other data), living 12 h idle like the memory store
    # that uses it, not 90 days. (Static pages other tests registered keep 90-day seeds.)
    assert len([t for t in left if 11 * 3600 < t <= 12 * 3600]) == 30


def test_a_session_quota_refuses_writes_over_it_and_keeps_what_was_committed(serve, db):
    server = serve(vault_app(url_of(db), max_session_bytes=250_000, max_session_instances=5))
    c = DashClient(server.url)
    token = output(add_note(c, c.prop("notes", "data"), "first"), "notes", "data")
    size = c.callback("big.data")
    r = c.call(size, {("size", "value"): 100_000, ("big", "data"): c.prop("big", "data")})
    assert r.status_code == 500
    assert show_notes(c, token) == ["first"]


def test_session_quota_error_names_store_callback_and_setting(serve, db, caplog):
    server = serve(vault_app(url_of(db), max_session_bytes=50_000))
    c = DashClient(server.url)
    r = c.call(c.callback("big.data"), {("size", "value"): 60_000, ("big", "data"): None})
    assert r.status_code == 500
    assert "callback 'make_big', store 'big'" in caplog.text
    assert "max_session_bytes" in caplog.text


def test_a_session_cannot_keep_more_instances_than_its_quota(serve, db, caplog):
    server = serve(vault_app(url_of(db), max_session_instances=3))
    c = DashClient(server.url)
    cb = c.callback("big.data")
    codes = []
    for _ in range(4):  # four page loads, each writes its memory store
        layout = c.http.get(server.url + "/_dash-layout").json()
        c.layout = layout
        r = c.call(cb, {("size", "value"): 10, ("big", "data"): c.prop("big", "data")})
        codes.append(r.status_code)
    assert codes == [200, 200, 200, 500]
    assert "max_session_instances" in caplog.text


def test_default_value_limit_refuses_a_huge_value_from_one_callback(serve, db, caplog):
    server = serve(vault_app(url_of(db)))
    c = DashClient(server.url)
    r = c.call(c.callback("big.data"), {("size", "value"): 40_000_000, ("big", "data"): None})
    assert r.status_code == 500
    assert "over the limit of 33,554,432 bytes" in caplog.text
    assert "max_value_bytes" in caplog.text


def test_dash_routes_refuse_a_huge_request_body_unless_the_app_allows_it(serve, db):
    server = serve(vault_app(url_of(db)))
    c = DashClient(server.url)
    huge = {"output": "greeting.children", "inputs": [{"value": "x" * 20_000_000}]}
    r = c.http.post(server.url + "/_dash-update-component", json=huge)
    assert r.status_code == 413
    # A token-only store's request is tiny and passes.
    assert c.call(c.callback("greeting.children"), {("name", "value"): "y"}).ok
    # An app that sets Flask's own limit keeps it.
    app = vault_app(url_of(db.with_name("other.db")), name="roomy")
    app.server.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    roomy = serve(app)
    r = requests.post(roomy.url + "/_dash-update-component", json=huge)
    assert r.status_code != 413


# ---- 4. a copy of the backend is not a key ---------------------------------------------------


def test_default_backend_folder_and_files_are_private(serve, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DASH_STASH_BACKEND", raising=False)
    server = serve(vault_app(None))
    c = DashClient(server.url)
    big = c.callback("big.data")
    c.call(
        big, {("size", "value"): 2_000_000, ("big", "data"): c.prop("big", "data")}
    ).raise_for_status()
    folder = tmp_path / ".dash_stash"
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"stash.db", "stash.db-wal", "stash.db-shm"}
    assert any(p.parent.name == "stash.db.blobs" for p in files)  # the 2 MB value's file
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "stash.db.blobs").stat().st_mode) == 0o700
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_a_copy_of_the_backend_names_no_usable_session(serve, db, tmp_path):
    server = serve(vault_app(url_of(db)))
    victim = DashClient(server.url)
    token = output(add_note(victim, victim.prop("notes", "data"), "victim-diary"), "notes", "data")
    name, value = cookie(victim)
    sid = value.split(".")[0]
    raw = b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    assert sid.encode() not in raw and value.encode() not in raw
    listing = subprocess.run(
        [sys.executable, "-m", "dash_stash.cli", "inspect", "--backend", url_of(db)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sid not in listing
    # The attacker plants every session column of the copy as their cookie.
    for (session,) in rows(db, "SELECT DISTINCT session FROM keys WHERE session != ''"):
        thief = DashClient(server.url)
        thief.http.cookies.set(name, session, domain="127.0.0.1", path="/")
        thief.layout = thief.http.get(server.url + "/_dash-layout").json()
        assert "victim-diary" not in json.dumps(show_notes(thief, thief.prop("notes", "data")))
    assert show_notes(victim, token) == ["victim-diary"]


def test_init_says_where_the_secret_comes_from(tmp_path, caplog, monkeypatch):
    monkeypatch.delenv("DASH_STASH_SECRET", raising=False)
    with caplog.at_level(logging.INFO, logger="dash_stash"):
        dash_stash.init(Dash("s1"), url_of(tmp_path / "a.db"))
        assert "secret kept in the backend" in caplog.text
        monkeypatch.setenv("DASH_STASH_SECRET", "x" * 32)
        dash_stash.init(Dash("s2"), url_of(tmp_path / "a.db"))
        assert "signed with DASH_STASH_SECRET" in caplog.text


# ---- 5. sessions are the server's ------------------------------------------------------------


def test_a_planted_session_cookie_is_replaced_not_adopted(serve, db):
    server = serve(vault_app(url_of(db)))
    name, _ = cookie(DashClient(server.url))
    planted = "a" * 32  # any 32-character alphanumeric id was adopted as it is in 0.1
    victim = requests.Session()
    victim.cookies.set(name, planted, domain="127.0.0.1", path="/")
    r = victim.get(server.url + "/")
    assert name in r.cookies and r.cookies[name] != planted
    # The victim writes a note; the attacker who planted the cookie reads nothing of it.
    v = DashClient(server.url)
    v.http = victim
    v.layout = victim.get(server.url + "/_dash-layout").json()
    add_note(v, v.prop("notes", "data"), "victim-private").raise_for_status()
    attacker = DashClient(server.url)
    attacker.http.cookies.clear()
    attacker.http.cookies.set(name, planted, domain="127.0.0.1", path="/")
    attacker.layout = attacker.http.get(server.url + "/_dash-layout").json()
    assert show_notes(attacker, attacker.prop("notes", "data")) == []


def test_session_cookie_flags_over_http(serve, db):
    server = serve(vault_app(url_of(db)))
    r = requests.get(server.url + "/")
    set_cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Secure" not in set_cookie and not set_cookie.startswith("__Host-")
    assert "private" in r.headers["Cache-Control"]
    # Static files (cached for a year) never carry it.
    page = r.text
    asset = re.search(r'src="(/_dash-component-suites/[^"]+)"', page).group(1)
    a = requests.get(server.url + asset)
    assert a.ok and "Set-Cookie" not in a.headers
    assert "Set-Cookie" not in requests.get(server.url + "/_favicon.ico").headers


def test_session_cookie_is_secure_and_host_only_behind_an_https_proxy(serve, db):
    app = vault_app(url_of(db))
    app.server.wsgi_app = ProxyFix(app.server.wsgi_app, x_proto=1)
    server = serve(app)
    proxied = requests.Session()
    proxied.headers["X-Forwarded-Proto"] = "https"
    r = proxied.get(server.url + "/")
    set_cookie = r.headers["Set-Cookie"]
    assert set_cookie.startswith("__Host-") and "Secure" in set_cookie and "Path=/" in set_cookie
    assert "Domain" not in set_cookie


def test_session_cookie_is_secure_when_the_app_says_so(serve, db):
    app = vault_app(url_of(db))
    app.server.config["SESSION_COOKIE_SECURE"] = True
    r = requests.get(serve(app).url + "/")
    assert r.headers["Set-Cookie"].startswith("__Host-") and "Secure" in r.headers["Set-Cookie"]


# ---- 6. two apps never share by accident -----------------------------------------------------

PROJECT = """
from dash import ALL, Dash, Input, Output, State, html
import dash_stash

app = Dash(__name__)
server = app.server
dash_stash.init(app, {backend!r}{options})
app.layout = html.Div([
    dash_stash.Store(id="notes", data={{"items": []}}, storage_type="local"),
    html.Button(id="add"), html.Div(id="out"),{extra}
])


@app.callback(Output("notes", "data"), Input("add", "n_clicks"), State("notes", "data"),
              prevent_initial_call=True)
def add(n, notes):
    notes["items"].append({label!r})
    return notes


@app.callback(Output("out", "children"), Input("notes", "data"))
def show(notes):
    return ",".join(notes["items"])
"""


def project(root: Path, label: str, backend: str, options: str = "", extra: str = "") -> Path:
    root.mkdir()
    (root / "app.py").write_text(
        PROJECT.format(backend=backend, label=label, options=options, extra=extra)
    )
    return root


def test_two_projects_named_app_py_on_one_backend_do_not_share(gunicorn, tmp_path):
    backend = url_of(tmp_path / "shared.db")
    one = gunicorn("app:server", workers=1, cwd=project(tmp_path / "one", "from-one", backend))
    two = gunicorn("app:server", workers=1, cwd=project(tmp_path / "two", "from-two", backend))
    c1 = DashClient(one.url)
    add = c1.callback("notes.data")
    r = c1.call(add, {("add", "n_clicks"): 1, ("notes", "data"): c1.prop("notes", "data")})
    r.raise_for_status()
    c2 = DashClient(two.url)
    c2.http.cookies.update(c1.http.cookies)  # one host: the browser sends both apps' cookies
    r = c2.call(c2.callback("out.children"), {("notes", "data"): c2.prop("notes", "data")})
    assert output(r, "out", "children") == ""  # 0.1: "from-one"


def test_a_second_app_claiming_a_namespace_with_another_layout_is_refused(gunicorn, tmp_path):
    backend = url_of(tmp_path / "shared.db")
    options = ", namespace='shared/'"
    one = gunicorn("app:server", workers=1, cwd=project(tmp_path / "one", "a", backend, options))
    DashClient(one.url)
    other = 'html.Div(id="elsewhere"), dash_stash.Store(id="other", data=1),'
    two = gunicorn(
        "app:server",
        workers=1,
        cwd=project(tmp_path / "two", "b", backend, options, extra=other),
    )
    r = requests.get(two.url + "/")
    assert r.status_code == 500
    said = two.stop()
    assert "belongs to another app" in said and "namespace=" in said


# ---- 7. small things -------------------------------------------------------------------------


def test_a_token_with_a_non_ascii_mac_is_ignored_with_a_warning(serve, db, caplog):
    server = serve(vault_app(url_of(db)))
    c = DashClient(server.url)
    token = c.prop("notes", "data")
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        assert show_notes(c, token[:-2] + "é€") == []  # 0.1: a 500
    assert "ignoring the token the browser sent" in caplog.text


def test_session_ids_do_not_appear_in_errors_or_logs(serve, db, caplog):
    server = serve(vault_app(url_of(db)))
    c = DashClient(server.url)
    token = output(add_note(c, c.prop("notes", "data"), "x"), "notes", "data")
    with sqlite3.connect(db) as conn:  # the record goes bad on disk
        conn.execute("UPDATE versions SET value = x'00ff' WHERE store_id = 'notes'")
    r = c.call(c.callback("notes-out.children"), {("notes", "data"): token})
    assert r.status_code == 500
    assert "cannot be decoded" in caplog.text
    _, value = cookie(c)
    (session,) = rows(db, "SELECT session FROM keys WHERE store_id = 'notes'")[0]
    for secret in (value, value.split(".")[0], session):
        assert secret not in caplog.text and secret not in r.text


def test_a_value_file_name_edited_in_the_database_is_not_followed(serve, db, tmp_path, caplog):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"items": ["read-from-outside"]}))
    server = serve(vault_app(url_of(db)))
    c = DashClient(server.url)
    token = output(add_note(c, c.prop("notes", "data"), "x"), "notes", "data")
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE versions SET codec = 'json', value = x'', file = '../outside.json' "
            "WHERE store_id = 'notes'"
        )
    r = c.call(c.callback("notes-out.children"), {("notes", "data"): token})
    assert "read-from-outside" not in r.text
    assert r.status_code == 500
    assert "not a name dash-stash makes" in caplog.text


def inspect_cli(
    *args: str, cwd: Path | None = None, as_nobody: bool = False
) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "dash_stash.cli", "inspect", *args]
    if as_nobody:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    env = {**os.environ, "PYTHONPATH": str(Path(dash_stash.__file__).parents[1])}
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env)


def test_inspect_opens_a_read_only_copy_of_the_database(serve, db, tmp_path):
    server = serve(vault_app(url_of(db)))
    c = DashClient(server.url)
    add_note(c, c.prop("notes", "data"), "kept").raise_for_status()
    copy = Path(tempfile.mkdtemp(dir="/tmp"))  # outside pytest's root-only folders
    with sqlite3.connect(db) as conn, sqlite3.connect(copy / "stash.db") as out:
        conn.backup(out)  # a consistent copy, as an operator would take one
    for name in ("stash.db",):
        (copy / name).chmod(0o444)
    copy.chmod(0o555)  # nobody may write here
    try:
        done = inspect_cli("--backend", url_of(copy / "stash.db"), as_nobody=os.geteuid() == 0)
        assert done.returncode == 0, done.stderr
        assert "/local/notes" in done.stdout
        assert sorted(p.name for p in copy.iterdir()) == ["stash.db"]  # nothing created
    finally:
        copy.chmod(0o755)
        shutil.rmtree(copy)


def test_inspect_escapes_terminal_control_characters_in_stored_names(serve, db):
    pd = pytest.importorskip("pandas")
    app = Dash("escapes")
    dash_stash.init(app, url_of(db))
    app.layout = html.Div([dash_stash.Store(id="t", data=None), html.Button(id="go")])

    @app.callback(Output("t", "data"), Input("go", "n_clicks"), prevent_initial_call=True)
    def write(n):
        return pd.DataFrame({"\x1b]0;pwned\x07\x1b[2J": [1]})

    c = DashClient(serve(app).url)
    c.call(c.callback("t.data"), {("go", "n_clicks"): 1, ("t", "data"): c.prop("t", "data")})
    done = inspect_cli("--backend", url_of(db), "--show", "t")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "\\x1b]0;pwned" in done.stdout


EVIL = """
import enum, pathlib
pathlib.Path(__file__).with_name("imported.txt").write_text("ran")


class Color(enum.Enum):
    RED = "red"
"""


def test_inspect_never_imports_a_module_named_in_a_record(serve, db, tmp_path, monkeypatch):
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "evil_colors.py").write_text(EVIL)
    monkeypatch.syspath_prepend(str(evil))
    import evil_colors

    (evil / "imported.txt").unlink()
    app = Dash("enums")
    dash_stash.init(app, url_of(db))
    app.layout = html.Div([dash_stash.Store(id="e", data=None), html.Button(id="go")])

    @app.callback(Output("e", "data"), Input("go", "n_clicks"), prevent_initial_call=True)
    def write(n):
        return {"color": evil_colors.Color.RED, "tags": {"a"}}  # a set: the typed codec

    c = DashClient(serve(app).url)
    c.call(c.callback("e.data"), {("go", "n_clicks"): 1, ("e", "data"): c.prop("e", "data")})
    done = inspect_cli("--backend", url_of(db), "--show", "e", cwd=evil)
    assert done.returncode == 0, done.stderr
    assert not (evil / "imported.txt").exists()
    assert "evil_colors:Color" in done.stdout


def test_pyarrow_minimum_has_the_ipc_fix():
    """pyarrow 0.14.0 to 14.0.0 deserialise untrusted IPC unsafely (CVE-2023-47248)."""
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    minimums = re.findall(r'"pyarrow>=([\d.]+)"', text)
    assert minimums
    for minimum in minimums:
        assert tuple(map(int, minimum.split("."))) >= (14, 0, 1)
