"""Open pages follow their own `session` and `memory` stores (issue 13): a write from outside
the page (another process committing with a `StoreKey`, `dash_stash.restore`) reaches the
owning page without a click, and no other page: not another browser, not another tab's
memory instance. On gunicorn with threads, where held streams are rationed
(`LiveRoute.budget`): a page that shows no shared store and runs no job asks again and
again instead (decision 65).

One gunicorn process (`-w 1 --threads 4`: two stream slots) on a SQLite file serves the
whole module (tests/apps/follow_app.py), and one other Python process writes its stores
(`Writer`); the test that fills the slots runs last.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import orjson
import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import ROOT, ProcessServer, app_env, gunicorn_argv
from tests.support.dash_client import DashClient
from tests.support.net import free_port

LIVE = "/_dash-stash/live"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    backend = f"sqlite:///{tmp_path_factory.mktemp('follow') / 'stash.db'}"
    port = free_port()
    cache = tmp_path_factory.mktemp("follow-jobs")
    env = app_env(
        {"FOLLOW_APP_BACKEND": backend, "FOLLOW_APP_HEARTBEAT": "1", "FOLLOW_APP_CACHE": str(cache)}
    )
    s = ProcessServer(gunicorn_argv("follow_app:server", port, 1), port, env, ROOT)
    s.backend = backend
    yield s
    log = s.stop()
    assert "Traceback" not in log, log


class Writer:
    """Another Python process on the server's backend, writing stores by `StoreKey`
    (tests/apps/follow_app.py `serve_writes`); started once for the module."""

    def __init__(self, backend: str) -> None:
        code = f"import follow_app; follow_app.serve_writes({backend!r})"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            env=app_env({}),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __call__(self, store: str, **where_and_what) -> None:
        self.proc.stdin.write(json.dumps({"store": store, **where_and_what}) + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "ok\n", "the writer process failed"

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def write(server):
    writer = Writer(server.backend)
    yield writer
    writer.stop()


def ask(c: DashClient, stores: list[dict], **flags) -> requests.Response:
    """One ask of the live route (answered at once for a page that is not hot)."""
    return c.http.post(c.url + LIVE, json={"stores": stores, **flags}, timeout=30)


def tokens(c: DashClient, *ids: str) -> list[dict]:
    return [{"id": i, "token": c.prop(i, "data")} for i in ids]


def events(r: requests.Response) -> list[list[dict]]:
    lines = r.text.splitlines()
    return [json.loads(x[6:])["stores"] for x in lines if x.startswith("data: ")]


def count(c: DashClient, name: str) -> str:
    """Click `name`'s button once: the store's new token (its value is 1)."""
    cb = c.callback(f"{name}.")
    r = c.call(cb, {(f"{name}-add", "n_clicks"): 1, (name, "data"): c.prop(name, "data")})
    r.raise_for_status()
    return r.json()["response"][name]["data"]


@pytest.mark.browser
def test_a_write_from_another_process_reaches_the_owning_tab_and_its_callback_fires(
    server, write, browser
):
    ctx, other = browser.new_context(), browser.new_context()
    try:
        one, two, stranger = ctx.new_page(), ctx.new_page(), other.new_page()
        for page in (one, two, stranger):
            page.set_default_timeout(30_000)
            page.goto(server.url)
            expect(page.locator("#mine-out")).to_have_text("0")
        one.click("#mine-add")
        one.click("#scratch-add")
        for _ in range(2):
            two.click("#scratch-add")
        expect(one.locator("#scratch-out")).to_have_text("1")
        expect(two.locator("#scratch-out")).to_have_text("2")

        write("mine", match=1, value=41)  # tab one's session store
        expect(one.locator("#mine-out")).to_have_text("41")  # no click: its callback fired
        write("mine", match=41, version=1)  # dash_stash.restore(key, 1)
        expect(one.locator("#mine-out")).to_have_text("1")
        write("scratch", match=1, value=51)  # tab one's memory store
        expect(one.locator("#scratch-out")).to_have_text("51")

        # tab two of the same browser has instances of its own; another browser too
        write("scratch", match=2, value=62)  # now tab two's
        expect(two.locator("#scratch-out")).to_have_text("62")
        for page, mine, scratch in ((two, "0", "62"), (stranger, "0", "0"), (one, "1", "51")):
            expect(page.locator("#mine-out")).to_have_text(mine)
            expect(page.locator("#scratch-out")).to_have_text(scratch)

        # while its background job runs the page says it is hot (the server may hold a
        # stream for it), and a write to its store from elsewhere shows meanwhile
        def asks(hot: bool):
            return lambda r: r.url.endswith(LIVE) and json.loads(r.post_data)["hot"] is hot

        with one.expect_request(asks(True)):
            one.click("#work")
        write("mine", match=1, value=77)
        expect(one.locator("#mine-out")).to_have_text("77")
        with one.expect_request(asks(False), timeout=30_000):
            expect(one.locator("#work-out")).to_have_text("done 1")
    finally:
        ctx.close()
        other.close()


def test_another_browser_can_follow_no_session_or_memory_store_of_the_victim(server, write):
    victim, mallory = DashClient(server.url), DashClient(server.url)
    victim.layout = _with(victim.layout, "mine", count(victim, "mine"))
    stolen = tokens(victim, "mine", "scratch")
    assert ask(victim, stolen).status_code == 200  # the victim's own page may
    assert ask(mallory, stolen).status_code == 204  # replayed by another browser: nothing
    assert requests.post(server.url + LIVE, json={"stores": stolen}).status_code == 204
    # forged: the victim's token with another instance in its (readable) payload
    forged = [{"id": "mine", "token": _with_instance(stolen[0]["token"], "forged")}]
    assert ask(victim, forged).status_code == 204
    # mallory's own page is not told of the victim's writes
    before = ask(mallory, tokens(mallory, "mine", "scratch"))
    write("mine", instance=_payload(stolen[0]["token"])[2], value=7)
    assert events(before) == [] and events(ask(mallory, tokens(mallory, "mine"))) == []
    (caught,) = events(ask(victim, stolen))
    assert [s["id"] for s in caught] == ["mine"]


def test_a_tab_never_hears_of_another_tabs_memory_instance(server, write):
    one = DashClient(server.url)
    two = DashClient.__new__(DashClient)  # a second tab: same cookies, its own page load
    two.url, two.http, two.callbacks = one.url, one.http, one.callbacks
    two.layout = one.http.get(server.url + "/_dash-layout").json()
    assert two.prop("scratch", "data") != one.prop("scratch", "data")
    for c in (one, two):
        c.layout = _with(c.layout, "scratch", count(c, "scratch"))
    mine_one, mine_two = tokens(one, "scratch"), tokens(two, "scratch")
    write("scratch", instance=_payload(mine_one[0]["token"])[2], value=5)  # tab one's
    assert events(ask(two, mine_two)) == []  # tab two is not told, nor given a token
    ((heard,),) = events(ask(one, mine_one))
    assert heard["id"] == "scratch"
    assert _payload(heard["token"])[2:4] == [_payload(mine_one[0]["token"])[2], 2]


def test_on_gthread_only_hot_pages_hold_streams_and_at_most_half_the_threads(server):
    c = DashClient(server.url)
    mine = tokens(c, "mine")
    idle = [ask(c, mine, quiet=n).text for n in (0, 1, 3, 99)]
    # an idle page is answered at once and asks less and less often, at most 8 s apart
    assert idle == [f"retry: {ms}\n\n" for ms in (1000, 2000, 8000, 8000)]
    held: list[requests.Response] = []
    deadline = time.monotonic() + 30  # a closed page of an earlier test frees its slot
    try:  # within a heartbeat (1 s here)
        while len(held) < 2 and time.monotonic() < deadline:  # two slots (4 threads / 2)
            r = c.http.post(server.url + LIVE, json={"stores": mine, "hot": True}, stream=True)
            if next(r.iter_lines()) == b"retry: 100":  # held: ask again at once after it
                held.append(r)
            else:
                r.close()
                time.sleep(0.2)
        assert len(held) == 2
        # slots full: the next hot page is answered at once and asks again in a second
        assert ask(c, mine, hot=True).text == "retry: 1000\n\n"
        assert count(c, "mine")  # and callbacks are served: two threads are left
    finally:
        for r in held:
            r.close()


def _with(layout, store_id: str, token: str):
    """The layout with `store_id` holding `token` (as the page holds it after a write)."""

    def walk(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == store_id:
                node["props"]["data"] = token
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(layout)
    return layout


def _payload(token: str) -> list:
    """A token's fields (signed, not secret): store id, scope, instance, version..."""
    payload = token[len("ds1.") :].split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _with_instance(token: str, instance: str) -> str:
    fields = _payload(token)
    fields[2] = instance
    forged = base64.urlsafe_b64encode(orjson.dumps(fields)).decode().rstrip("=")
    return f"ds1.{forged}.{token.rsplit('.', 1)[1]}"
