"""dash-stash on every Dash server, over HTTP: Flask under gunicorn, FastAPI under uvicorn,
Quart under hypercorn, each a real server process on a real SQLite file.

The same app (tests/apps/servers_app.py) and the same checks on the three: concurrent
writers from one base (a sync and an async callback) both count, a typed value keeps its
types, the session cookie's flags, body limits, the inspector's authorizer gets the server's
own request, and attacks (no cookie, a forged cookie, another user's token, a forged token).
Then uvicorn with four workers on one SQLite file loses no update.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.apps import servers_app
from tests.conftest import (
    ALL_SERVERS,
    ASGI_SERVERS,
    ProcessServer,
    dash_version,
    needs_asgi,
    start_server,
)
from tests.support.dash_client import DashClient

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        dash_version() < (4, 2), reason="the servers app uses Dash 4.2+ (ctx.websocket)"
    ),
]

TARGET = "servers_app:create_server"
STORE = ("user_data", "data")
FIRST, LAST = ("first_name", "value"), ("last_name", "value")


@pytest.fixture(scope="module", params=ALL_SERVERS)
def served(request, tmp_path_factory) -> Iterator[ProcessServer]:
    """servers_app on one server (one worker), for every test of this module."""
    db = tmp_path_factory.mktemp(request.param) / "stash.db"
    env = {"DASH_STASH_BACKEND": f"sqlite:///{db}", "SEED_DELAY": "0.3"}
    server = start_server(request.param, TARGET, env=env)
    server.name, server.db = request.param, db
    yield server
    print(f"--- {request.param} said:\n{server.stop()}")


def token_of(response: requests.Response, store: str = "user_data") -> str:
    assert response.status_code == 200, response.text
    return response.json()["response"][store]["data"]


def shown(client: DashClient, token: str) -> str:
    r = client.call(client.callback("..show.children"), {STORE: token})
    assert r.status_code == 200, r.text
    return r.json()["response"]["show"]["children"]


def test_two_writers_from_one_base_both_count(served):
    """A sync and an async callback read the same value at once and write their own key:
    on every server both keys are kept (a three-way merge), as in the seed article."""
    for round_ in range(2):
        c = DashClient(served.url)
        t0 = c.prop("user_data", "data")
        first = c.callback("user_data.data", ["first_name"])
        last = c.callback("user_data.data", ["last_name"])
        results: dict[str, requests.Response] = {}

        def run(name, cb, values, c=c, results=results):
            results[name] = c.call(cb, values)

        threads = [
            threading.Thread(target=run, args=("a", first, {FIRST: f"M{round_}", STORE: t0})),
            threading.Thread(target=run, args=("b", last, {LAST: f"J{round_}", STORE: t0})),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert shown(c, token_of(results["a"])) == f"M{round_} J{round_}"
        assert shown(c, token_of(results["b"])) == f"M{round_} J{round_}"


def test_a_typed_value_keeps_its_types(served):
    c = DashClient(served.url)
    grow = c.callback("typed.data", ["grow"])
    show = c.callback("typed-show.children")
    sent = {("grow", "n_clicks"): 1, ("typed", "data"): c.prop("typed", "data")}
    token = token_of(c.call(grow, sent), "typed")
    r = c.call(show, {("typed", "data"): token})
    assert r.json()["response"]["typed-show"]["children"] == "date 2024-01-02 tuple [1, 2, 3]"


def test_an_unstorable_value_fails_the_callback_and_keeps_the_stored_one(served):
    c = DashClient(served.url)
    grow, bad = c.callback("typed.data", ["grow"]), c.callback("typed.data", ["break"])
    show = c.callback("typed-show.children")
    sent = {("grow", "n_clicks"): 1, ("typed", "data"): c.prop("typed", "data")}
    token = token_of(c.call(grow, sent), "typed")
    r = c.call(bad, {("break", "n_clicks"): 1, ("typed", "data"): token})
    assert r.status_code == 500  # Dash's answer to a failed callback, on every server
    r = c.call(show, {("typed", "data"): token})
    assert r.json()["response"]["typed-show"]["children"] == "date 2024-01-02 tuple [1, 2, 3]"


def test_session_cookie_flags_and_no_cookie_on_static_files(served):
    r = requests.get(served.url + "/")
    set_cookie = r.headers["Set-Cookie"]
    assert set_cookie.startswith("dash_stash_session_")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    assert "Secure" not in set_cookie and "private" in r.headers["Cache-Control"]
    c = DashClient(served.url)
    bundle = c.http.get(served.url + "/_dash-component-suites/dash_stash/adapter/dash_stash.js")
    assert bundle.ok and "Set-Cookie" not in bundle.headers
    assert "Set-Cookie" not in c.http.get(served.url + "/_dash-layout").headers  # has one


def test_without_a_valid_cookie_nothing_is_written(served):
    """No cookie, or a cookie this server never made: the write is refused with a 400 and
    commits nothing; a new session cookie comes back."""
    alice = DashClient(served.url)
    first = alice.callback("user_data.data", ["first_name"])
    t0 = alice.prop("user_data", "data")
    name, value = next((c.name, c.value) for c in alice.http.cookies)
    session, _, mac = value.partition(".")
    for cookies in ({}, {name: f"{session}.{mac[:-4]}AAAA"}, {name: "forged.cookie"}):
        r = requests.post(
            served.url + "/_dash-update-component",
            json=DashClient.body(first, {FIRST: "Mallory", STORE: t0}),
            cookies=cookies,
        )
        assert r.status_code == 400, r.text
        assert "no valid session cookie" in r.text
        assert r.headers["Set-Cookie"].startswith(name)
    assert shown(alice, t0) == "None None"  # Alice's value was never written
    write = requests.post(
        served.url + "/_dash-stash/write",
        json={"id": "user_data", "prop": "data", "token": t0, "value": {"first_name": "M"}},
    )
    assert write.status_code == 400 and "no valid session cookie" in write.text
    assert shown(alice, t0) == "None None"


def test_another_users_and_forged_tokens_read_layout_data(served):
    alice, bob = DashClient(served.url), DashClient(served.url)
    first = alice.callback("user_data.data", ["first_name"])
    t_alice = token_of(alice.call(first, {FIRST: "Alice", STORE: alice.prop("user_data", "data")}))
    assert shown(alice, t_alice) == "Alice None"
    assert shown(bob, t_alice) == "None None"  # Alice's token in Bob's browser
    assert shown(bob, t_alice[:-3] + "xyz") == "None None"  # edited
    assert shown(bob, "ds1.W10.AAAA") == "None None"  # forged
    t_bob = token_of(bob.call(first, {FIRST: "Bob", STORE: t_alice}))  # writes his own
    assert shown(bob, t_bob) == "Bob None"
    assert shown(alice, t_alice) == "Alice None"
    # The browser-side read route answers Bob with his own values only
    read = bob.http.post(served.url + "/_dash-stash/read", json={"callback": "x", "stores": []})
    assert read.status_code == 400 and "no clientside callback" in read.json()["error"]


def test_a_crafted_request_cannot_feed_another_store_to_a_callback(served):
    c = DashClient(served.url)
    show = c.callback("..show.children")
    body = DashClient.body(show, {STORE: c.prop("progress", "data")})
    body["inputs"][0]["id"] = "progress"  # the callback declares user_data
    r = c.http.post(served.url + "/_dash-update-component", json=body)
    assert r.status_code == 400 and "does not match callback" in r.text


def test_a_huge_body_is_refused_with_413(served):
    c = DashClient(served.url)
    first = c.callback("user_data.data", ["first_name"])
    body = json.dumps(DashClient.body(first, {FIRST: "x" * (17 * 1024 * 1024), STORE: None}))
    # The server answers before reading the body and closes: never reuse that connection.
    headers = {"Content-Type": "application/json", "Connection": "close"}
    r = c.http.post(served.url + "/_dash-update-component", data=body, headers=headers)
    assert r.status_code == 413

    def chunks():  # no length: a chunked body, read no further than the limit
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)].encode()

    r = c.http.post(served.url + "/_dash-update-component", data=chunks(), headers=headers)
    assert r.status_code in (400, 413), r.text  # never read whole, never committed
    assert shown(c, c.prop("user_data", "data")) == "None None"


def test_a_body_nested_too_deep_for_the_parser_is_a_400_on_every_route(served):
    """Before the fix Python's JSON parser raised RecursionError (not ValueError) on a body
    nested 100,000 deep, and dash-stash's routes answered 500 on every server."""
    c = DashClient(served.url)
    deep = b'{"stores": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for route in ("read", "write", "live"):
        r = c.http.post(
            f"{served.url}/_dash-stash/{route}",
            data=deep,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400, (route, r.status_code, r.text[:200])
        assert r.json() == {"error": "expected a JSON object"}


def test_the_inspector_authorizer_gets_the_servers_request(served):
    c = DashClient(served.url)
    first = c.callback("user_data.data", ["first_name"])
    token_of(c.call(first, {FIRST: "Ann", STORE: c.prop("user_data", "data")}))
    assert requests.get(served.url + "/_dash-stash/").status_code == 403
    page = requests.get(served.url + "/_dash-stash/", headers={"X-Admin": servers_app.ADMIN})
    assert page.status_code == 200 and "user_data" in page.text
    # the dev tools panel's routes are off outside debug: Dash routes the path as unknown
    panel = c.http.post(served.url + "/_dash-stash/panel/stores", json={"stores": []})
    assert panel.status_code in (404, 405) or "<!DOCTYPE html>" in panel.text


@pytest.mark.parametrize("server", ASGI_SERVERS)
def test_secure_cookie_behind_an_https_proxy(server, tmp_path):
    """Behind a TLS proxy (X-Forwarded-Proto: https from a trusted address: uvicorn's own
    proxy headers, hypercorn's ProxyFixMiddleware) the cookie is Secure and __Host-."""
    env = {"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db", "PROXY_FIX": "1"}
    s = start_server(server, TARGET, env=env)
    try:
        r = requests.get(s.url + "/", headers={"X-Forwarded-Proto": "https"})
        set_cookie = r.headers["Set-Cookie"]
        assert set_cookie.startswith("__Host-") and "; Secure" in set_cookie
        plain = requests.get(s.url + "/").headers["Set-Cookie"]
        assert not plain.startswith("__Host-") and "Secure" not in plain
    finally:
        s.stop()


@needs_asgi
def test_secure_cookie_on_fastapi_when_the_app_says_so(tmp_path):
    """FastAPI has no `SESSION_COOKIE_SECURE`: behind a TLS proxy that uvicorn does not
    trust (not 127.0.0.1, no `--forwarded-allow-ips`) every request looked like plain HTTP,
    and the cookie went without `Secure`, so a browser would send it over any http:// link
    an attacker gets it to load. `init(secure_cookie=True)` makes it `__Host-...; Secure`."""
    env = {"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db", "SECURE_COOKIE": "1"}
    s = start_server("fastapi", TARGET, env=env)
    try:
        r = requests.get(s.url + "/")  # what uvicorn sees from a proxy it does not trust
        name, _, rest = r.headers["Set-Cookie"].partition("=")
        assert name.startswith("__Host-") and "; Secure" in rest
        value = rest.split(";")[0]
        # the browser sends it back (over HTTPS): that is the session, no new cookie
        again = requests.get(s.url + "/_dash-layout", headers={"Cookie": f"{name}={value}"})
        assert again.status_code == 200 and "Set-Cookie" not in again.headers
    finally:
        s.stop()


@pytest.mark.parametrize("server", ASGI_SERVERS)
def test_four_uvicorn_or_hypercorn_workers_on_one_sqlite_file_lose_no_update(server, tmp_path):
    """Many writers of one session's local store, each on a connection of its own so that
    the kernel spreads them over four worker processes: every key written is kept."""
    env = {"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db", "SEED_DELAY": "0"}
    s = start_server(server, TARGET, workers=4, env=env)
    try:
        first = DashClient(s.url, headers={"Connection": "close"})
        add = first.callback("..tally.data")
        token = first.prop("tally", "data")
        written: list[str] = []
        workers: set[str] = set()
        errors: list[str] = []

        def writer(name: str) -> None:
            """Writes until some other thread's writes went to another worker (workers
            start one after the other), at least 8 times."""
            c = requests.Session()
            c.headers["Connection"] = "close"
            c.cookies.update(first.http.cookies)
            for i in range(200):
                if i >= 8 and len(workers) > 1:
                    return
                sent = {("tally-key", "value"): f"{name}-{i}", ("tally", "data"): token}
                r = c.post(s.url + "/_dash-update-component", json=DashClient.body(add, sent))
                if r.status_code != 200:
                    errors.append(r.text)
                    return
                written.append(f"{name}-{i}")
                workers.add(r.json()["response"]["tally-pid"]["children"])

        threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(workers) > 1, f"all writes went to one worker: {workers}"
        show = first.callback("tally-show.children")
        r = first.call(show, {("tally", "data"): token})
        tally = json.loads(r.json()["response"]["tally-show"]["children"])
        assert sorted(tally) == sorted(written)  # every write kept, whichever worker took it
        assert set(tally.values()) == workers
    finally:
        print(s.stop())


class Socket:
    """One browser's websocket to Dash's callback endpoint, speaking dash-renderer's protocol."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    @contextlib.contextmanager
    def open(
        cls, url: str, cookies: dict[str, str], headers: dict[str, str] | None = None
    ) -> Iterator[Socket]:
        """A socket with `cookies` (and `headers`) on its handshake, from the page's origin."""
        from websockets.sync.client import connect

        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        headers = {"Origin": url, **(headers or {}), **({"Cookie": cookie} if cookie else {})}
        ws_url = url.replace("http://", "ws://") + "/_dash-ws-callback"
        with connect(ws_url, additional_headers=headers, open_timeout=30) as ws:
            yield cls(ws)

    def messages(self) -> Iterator[dict]:
        while True:
            data = json.loads(self.ws.recv(timeout=30))
            yield from data if isinstance(data, list) else [data]

    def run(self, body: dict, page: dict[str, object]) -> tuple[list[dict], dict]:
        """Run a callback as the page `page` ("id.prop": value, updated by what streams)
        would; return the set_props that streamed and the callback's result."""
        self.ws.send(json.dumps({"type": "callback_request", "requestId": "r1", "payload": body}))
        streamed = []
        for message in self.messages():
            if message["type"] == "set_props":
                streamed.append(message["payload"])
                for prop, value in message["payload"]["props"].items():
                    page[f"{message['payload']['componentId']}.{prop}"] = value
            elif message["type"] == "get_props_request":
                (prop,) = message["payload"]["properties"]
                value = page.get(f"{message['payload']['componentId']}.{prop}")
                reply = {"type": "get_props_response", "requestId": message["requestId"]}
                self.ws.send(json.dumps({**reply, "payload": {prop: value}}))
            elif message["type"] == "callback_response":
                return streamed, message["payload"]
        raise AssertionError("the socket closed")


@pytest.mark.parametrize("server", ASGI_SERVERS)
def test_websocket_callbacks_need_the_session_cookie_of_the_handshake(server, tmp_path):
    """Over the websocket, the session is the handshake's cookie: without a valid one a
    callback's set_props on a store is refused; with one, the value is committed and only
    its token streams; another browser's token reaches nothing of theirs."""
    env = {"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db"}
    s = start_server(server, TARGET, env=env)
    try:
        alice = DashClient(s.url)
        run = alice.callback("run-done.children")
        t0 = alice.prop("progress", "data")
        body = DashClient.body(run, {("run", "n_clicks"): 1, ("progress", "data"): t0})
        name, value = next((c.name, c.value) for c in alice.http.cookies)
        for cookies in ({}, {name: value[:-4] + "AAAA"}):
            with Socket.open(s.url, cookies) as socket:
                streamed, result = socket.run(body, {})
            assert streamed == [] and result["status"] == "error"
            assert "no valid session cookie" in result["message"]

        page: dict[str, object] = {"gate.value": "go1", "progress.data": t0}
        with Socket.open(s.url, {name: value}) as socket:
            streamed, result = socket.run(body, page)
        assert result["status"] == "ok", result
        assert [m["componentId"] for m in streamed] == ["progress", "progress"]
        assert all(m["props"]["data"].startswith("ds1.") for m in streamed)  # tokens only
        show = alice.callback("progress-show.children")

        def steps(client: DashClient, token: object) -> str:
            r = client.call(show, {("progress", "data"): token})
            return r.json()["response"]["progress-show"]["children"]

        token = page["progress.data"]
        assert steps(alice, token) == "1.0 1.1"

        bob = DashClient(s.url)  # Alice's token on Bob's socket: Bob writes his own value
        bob_page: dict[str, object] = {"gate.value": "go5", "progress.data": token}
        body = DashClient.body(run, {("run", "n_clicks"): 5, ("progress", "data"): token})
        with Socket.open(s.url, {c.name: c.value for c in bob.http.cookies}) as socket:
            _, result = socket.run(body, bob_page)
        assert result["status"] == "ok", result
        assert steps(bob, bob_page["progress.data"]) == "5.0 5.1"
        assert steps(alice, token) == "1.0 1.1"
    finally:
        print(s.stop())


@pytest.mark.parametrize("server", ASGI_SERVERS)
def test_websocket_callbacks_behind_an_https_proxy_keep_the_session(server, tmp_path):
    """Behind a TLS proxy set up as docs/security.md says (FastAPI: uvicorn's proxy headers;
    Quart: SESSION_COOKIE_SECURE), the page's `__Host-` cookie is the socket's session too:
    a websocket callback's streamed write lands in that browser's store. (Before, the docs
    told Quart apps to use hypercorn's ProxyFixMiddleware, which gives a websocket handshake
    the scheme "https": Quart then routes it as a page request and every websocket callback
    fails.)"""
    proxy = {"X-Forwarded-Proto": "https"}
    env = {"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db", "PROXY_FIX": "1"}
    s = start_server(server, TARGET, env=env)
    try:
        page = requests.get(s.url + "/", headers=proxy)
        name, _, value = page.headers["Set-Cookie"].split(";")[0].partition("=")
        assert name.startswith("__Host-") and "; Secure" in page.headers["Set-Cookie"]
        cookies = {name: value}  # sent by hand: requests keeps Secure cookies off http://
        client = DashClient(s.url, headers={**proxy, "Cookie": f"{name}={value}"})
        assert not client.http.cookies  # the browser's session was kept, no new one made
        t0 = client.prop("progress", "data")
        run = client.callback("run-done.children")
        body = DashClient.body(run, {("run", "n_clicks"): 1, ("progress", "data"): t0})
        state: dict[str, object] = {"gate.value": "go1", "progress.data": t0}
        with Socket.open(s.url, cookies, proxy) as socket:
            streamed, result = socket.run(body, state)
        assert result["status"] == "ok", result
        assert [m["componentId"] for m in streamed] == ["progress", "progress"]
        show = client.callback("progress-show.children")
        r = client.call(show, {("progress", "data"): state["progress.data"]})
        assert r.json()["response"]["progress-show"]["children"] == "1.0 1.1"
    finally:
        print(s.stop())


def test_init_refuses_a_server_it_cannot_serve_naming_it(tmp_path):
    """A server Dash can run on but dash-stash cannot serve: a clear error at init (before,
    FastAPI died with `AttributeError: 'FastAPI' object has no attribute 'secret_key'`)."""
    from dash import Dash
    from dash.backends._flask import FlaskDashServer

    import dash_stash

    class OtherServer(FlaskDashServer):  # a third-party backend under its own name
        def __init__(self, server) -> None:
            super().__init__(server)
            self.server_type = "sanic"

    app = Dash("other_server", backend=OtherServer)
    with pytest.raises(dash_stash.StashError) as caught:
        dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db")
    message = str(caught.value)
    assert "'sanic' server" in message and "flask, fastapi, quart" in message
    assert getattr(app, "_dash_stash", None) is None  # nothing half-installed
