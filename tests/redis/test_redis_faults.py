"""Redis absent, misconfigured, full, or killed mid-run: clear errors, nothing half-written,
nothing committed lost, and work resumes without a restart of the app."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from dash_stash.backends import StoreKey, open_backend
from dash_stash.codec import decode, encode
from dash_stash.errors import BackendError
from tests.support.net import free_port

pytestmark = pytest.mark.redis

KEY = StoreKey("ns", "s1", "local", "user_data")


def put(backend, key, value, ttl=60.0):
    return backend.commit(key, lambda latest: encode(value), ttl=ttl)


def test_unreachable_at_startup_names_the_url_not_the_password():
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    start = time.monotonic()
    with pytest.raises(BackendError) as info:
        open_backend(url)
    message = str(info.value)
    assert "cannot reach Redis at redis://:***@127.0.0.1:" in message
    assert "s3cret" not in message and "redis-server is running" in message
    assert time.monotonic() - start < 5


def test_password_and_tls(redis_factory, tls_files):
    server = redis_factory("--requirepass", "pa:ss")
    b = open_backend(f"redis://:pa%3Ass@127.0.0.1:{server.port}/3")
    put(b, KEY, "in db 3")
    assert decode(b.read(KEY).value) == "in db 3"
    b.close()
    with pytest.raises(BackendError) as info:
        open_backend(f"redis://:wrong@127.0.0.1:{server.port}/0")
    assert "wrong" not in str(info.value)

    tls = redis_factory(tls=tls_files)
    assert tls.url.startswith("rediss://")
    b = open_backend(tls.url)
    put(b, KEY, "over TLS")
    assert decode(b.read(KEY).value) == "over TLS"
    b.close()


def test_eviction_policy_is_checked_at_startup(redis_factory, caplog):
    evicting = redis_factory("--maxmemory-policy", "allkeys-lru")
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        open_backend(evicting.url).close()
    assert "maxmemory-policy allkeys-lru" in caplog.text and "noeviction" in caplog.text

    caplog.clear()
    no_config = redis_factory("--rename-command", "CONFIG", "")  # CONFIG disabled
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        b = open_backend(no_config.url)
    put(b, KEY, 1)
    b.close()
    assert caplog.text == ""


def test_too_old_redis_is_refused(redis_url, monkeypatch):
    import redis

    monkeypatch.setattr(redis.Redis, "info", lambda self, *a, **k: {"redis_version": "6.0.9"})
    with pytest.raises(BackendError, match=r"version 6\.0\.9; dash-stash needs Redis 6\.2"):
        open_backend(redis_url)


def test_full_redis_refuses_writes_and_keeps_the_last_value(redis_factory):
    """With noeviction a full Redis fails writes loudly; the last committed value stays whole."""
    server = redis_factory("--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
    b = open_backend(server.url)
    committed = None
    with pytest.raises(BackendError, match="is full .maxmemory reached. and refused a commit"):
        for i in range(100):
            put(b, KEY, {"i": i, "pad": "x" * 300_000})
            committed = i
    assert committed is not None
    record = b.read(KEY)
    assert decode(record.value)["i"] == committed and record.version == committed + 1
    b.close()


def test_killed_and_restarted_redis_loses_no_committed_update(redis_factory):
    """SIGKILL mid-run with appendfsync always: calls fail with BackendError while Redis is
    down, work again after the restart, every commit that returned is there, and none twice."""
    server = redis_factory("--appendonly", "yes", "--appendfsync", "always")
    b = open_backend(server.url)
    confirmed: list[str] = []
    unconfirmed: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(t: int) -> None:
        i = 0
        while not stop.is_set():
            tag = f"{t}.{i}"

            def append(latest, tag=tag):
                items = decode(latest.value) if latest else []
                return encode([*items, tag])

            try:
                b.commit(KEY, append, ttl=3600)
                with lock:
                    confirmed.append(tag)
            except BackendError:
                with lock:
                    unconfirmed.append(tag)
                time.sleep(0.05)
            i += 1

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.7)
    server.kill()
    killed_after = len(confirmed)
    time.sleep(0.3)
    for call in (
        lambda: b.read(KEY),
        lambda: b.touch(KEY, 60),
        lambda: b.keys("ns"),
        lambda: b.history(KEY),
        lambda: put(b, KEY, ["lost"]),
    ):
        with pytest.raises(BackendError, match=r"cannot reach Redis at redis://127\.0\.0\.1:\d+/0"):
            call()
    down = len(confirmed)
    server.start()  # same port and directory: the append-only file is replayed
    time.sleep(0.7)
    stop.set()
    for t in threads:
        t.join(timeout=30)

    print(
        f"\nconfirmed before kill {killed_after}, at restart {down}, total {len(confirmed)}, "
        f"unconfirmed {len(unconfirmed)}"
    )
    assert killed_after > 10 and down <= killed_after + 4  # at most those in flight
    assert len(confirmed) > down, "writers did not resume after the restart"
    items = decode(b.read(KEY).value)
    assert len(items) == len(set(items)), "a commit was applied twice"
    assert set(confirmed) <= set(items), "a confirmed commit was lost"
    assert set(items) <= set(confirmed) | set(unconfirmed)
    assert b.read(KEY).version == len(items)
    assert ["lost"] not in items
    for t in range(4):  # each writer's commits are in its own order
        mine = [int(x.split(".")[1]) for x in items if x.startswith(f"{t}.")]
        assert mine == sorted(mine)
    b.close()
