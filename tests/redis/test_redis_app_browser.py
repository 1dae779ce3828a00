"""The seed app on Redis in a real browser: two app hosts behind a round-robin proxy, and a
Redis that is killed and restarted while the app runs."""

from __future__ import annotations

import json

import pytest

from dash_stash.backends import open_backend
from dash_stash.codec import decode
from tests.support.proxy import RoundRobinProxy
from tests.support.seed_clicks import CALLBACK, IDLE_PROBE, run_clicks, worker_pids

pytestmark = [pytest.mark.redis, pytest.mark.browser]

SEED = "seed_app:create_server()"


def names(n: int) -> str:
    return f"Mickael{n} Jackson{n}"


def test_two_hosts_behind_a_round_robin_proxy_lose_no_update(
    gunicorn, redis_url, redis_client, page
):
    # No DASH_STASH_SECRET: each host takes the token secret kept in Redis, so a token minted
    # by one host is accepted by the other.
    env = {"DASH_STASH_BACKEND": redis_url, "DASH_STASH_SECRET": ""}
    hosts = [gunicorn(SEED, workers=2, env=env) for _ in range(2)]
    proxy = RoundRobinProxy([("127.0.0.1", host.port) for host in hosts])
    try:
        assert run_clicks(page, proxy.url, 25) == []
        shown = page.text_content("#pids").split()
    finally:
        proxy.stop()
    pids = [worker_pids(host.url, 2) for host in hosts]  # after the clicks: no warm-up

    callbacks = [(i, json.loads(body)) for i, path, body in proxy.sent if CALLBACK in path]
    writers = {i for i, body in callbacks if body["output"].startswith("user_data.data@")}
    print(
        f"\ncallbacks per host {proxy.counts(CALLBACK)}, store writes on hosts "
        f"{sorted(writers)}, worker pids {pids}, shown {shown}"
    )
    assert writers == {0, 1}, "the store was not written from both hosts"
    assert set(shown) <= pids[0] | pids[1]
    assert set(shown) & pids[0] and set(shown) & pids[1], "`show` ran on one host only"
    assert redis_client.keys("ds:*:rec:app:secret"), "the shared secret is not in Redis"
    logs = [host.stop() for host in hosts]
    for log in logs:
        assert "ignoring the token" not in log and "Traceback" not in log, log


def click(page) -> None:
    page.evaluate("window.__done = 0")
    page.click("#load_data")
    page.wait_for_function("window.__settled()", polling=50)


def test_redis_killed_and_restarted_under_a_running_app(gunicorn, redis_factory, page):
    server = redis_factory("--appendonly", "yes", "--appendfsync", "always")
    app = gunicorn(SEED, workers=2, env={"DASH_STASH_BACKEND": server.url})
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if CALLBACK in r.url else None)
    page.goto(app.url)
    page.wait_for_selector("#show")
    page.evaluate(IDLE_PROBE)
    for n in range(1, 4):
        click(page)
        assert page.text_content("#show") == names(n)

    server.kill()
    statuses.clear()
    page.evaluate("window.__done = 0")
    page.click("#load_data")  # click 4: load_data works, both store writers fail
    page.wait_for_function("window.__done >= 3 && window.__inflight === 0", polling=50)
    page.wait_for_timeout(300)  # nothing else follows
    assert sorted(statuses) == [200, 500, 500]
    assert page.text_content("#show") == names(3)

    server.start()  # same port and directory: the append-only file is read back
    backend = open_backend(server.url)
    try:
        [namespace] = [n for n in backend.namespaces() if n.startswith("seed_app-")]
        [key] = [k for k in backend.keys(namespace) if k.store_id == "user_data"]
        record = backend.read(key)
        assert decode(record.value) == {"first_name": "Mickael3", "last_name": "Jackson3"}
        assert record.version == 6  # two commits per click, none from the failed click

        statuses.clear()
        click(page)  # click 5, without restarting the app
        assert page.text_content("#show") == names(5)
        assert set(statuses) == {200}
        record = backend.read(key)
        assert decode(record.value) == {"first_name": "Mickael5", "last_name": "Jackson5"}
        assert record.version == 8
    finally:
        backend.close()

    log = app.stop()
    for callback in ("update_first_name", "update_last_name"):
        assert (
            f"BackendError: callback {callback!r}, store 'user_data': cannot reach Redis at "
            f"{server.url}" in log
        ), log
