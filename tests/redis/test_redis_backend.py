"""What is the Redis backend's own: key layout and hash tags, expiry of every key, a re-sent
commit script, contention. The protocol every backend shares is tests/test_backends.py."""

from __future__ import annotations

import threading

import pytest
from redis.crc import key_slot

from dash_stash.backends import Retention, StoreKey, open_backend
from dash_stash.backends.redis import RedisBackend
from dash_stash.codec import decode, encode
from dash_stash.errors import BackendError

pytestmark = pytest.mark.redis

KEY = StoreKey("ns", "s1", "local", "user_data")


@pytest.fixture
def backend(redis_url):
    b = open_backend(redis_url, Retention(versions=3, max_bytes=1000))
    assert isinstance(b, RedisBackend)
    yield b
    b.close()


def put(backend, key, value, ttl=60.0, writer="w"):
    return backend.commit(key, lambda latest: encode(value), ttl=ttl, writer=writer)


def test_a_failed_update_leaves_no_key_behind(backend, redis_client):
    put(backend, KEY, "kept")
    before = sorted(redis_client.keys("*"))

    def boom(latest):
        raise ValueError("no")

    with pytest.raises(ValueError):
        backend.commit(KEY, boom, ttl=60)
    assert sorted(redis_client.keys("*")) == before


def test_history_zero_versions_keeps_none(redis_url):
    b = open_backend(redis_url, Retention(versions=0))
    for i in range(3):
        put(b, KEY, i)
    assert b.history(KEY) == [] and decode(b.read(KEY).value) == 2


def test_every_key_expires(backend, redis_client):
    """Nothing is left behind forever: each key has a deadline, a store's keys the same one."""
    for i in range(5):
        put(backend, KEY, i, ttl=30)
        put(backend, StoreKey("ns", "s1", "local", "other"), i, ttl=90)
    backend.read(KEY, ttl=60)
    ttls = {k.decode(): redis_client.pttl(k) for k in redis_client.keys("*")}
    assert all(0 < t <= 90_000 for t in ttls.values()), ttls
    store = [t for k, t in ttls.items() if "user_data" in k]
    assert len(store) == 4 and max(store) - min(store) < 50  # rec, vals, hist, hord
    assert ttls["ds:{ns|s1}:idx"] > 60_000  # the index outlives its longest-lived member


def test_delete_leaves_no_key_of_the_store_behind(backend, redis_client):
    put(backend, KEY, 1)
    put(backend, KEY, 11)
    assert backend.delete(KEY)
    assert not [k for k in redis_client.keys("*") if b"user_data" in k and b"s1" in k]


def test_a_plain_value_replaces_without_fetching_the_latest(backend, monkeypatch):
    put(backend, KEY, "old")
    fetched = []
    real = backend._snapshot
    monkeypatch.setattr(
        backend,
        "_snapshot",
        lambda names, ttl, value=True: fetched.append(value) or real(names, ttl, value=value),
    )
    record = backend.commit(KEY, encode("new"), ttl=60, writer="blind")
    assert fetched == [False]
    assert (record.version, decode(backend.read(KEY).value)) == (2, "new")
    assert record.created == backend.read(KEY).created
    assert [decode(r.value) for r in backend.history(KEY)] == ["old"]


def test_odd_key_parts_stay_apart_and_share_one_slot(backend, redis_client):
    """Separators, braces and glob characters in names cannot mix keys up or split a session
    over Redis Cluster slots."""
    odd = ["a:b", "{x}", "a|b", "*", "?[]\\", "%41", "", "é ü", "}{"]
    keys = [
        StoreKey(ns, sess, scope, sid)
        for ns, sess, scope, sid in zip(odd, reversed(odd), odd[1:] + odd[:1], odd, strict=True)
    ]
    for i, k in enumerate(keys):
        put(backend, k, i)
    for i, k in enumerate(keys):
        assert decode(backend.read(k).value) == i
        assert backend.keys(k.namespace, k.session) == [k]
        assert backend.keys(k.namespace) == [k]
    for k in keys:
        put(backend, k, "again")
    names = [n for n in redis_client.keys("*")]
    for k in keys:
        from dash_stash.backends.redis import _Keys

        slots = {key_slot(n.encode()) for n in _Keys(k).store}
        assert len(slots) == 1
    assert len(names) == len(keys) * 5  # rec, vals, hist, hord, idx each; no stage left


def test_a_resent_commit_is_recognised_not_applied_twice(backend, monkeypatch):
    """redis-py re-sends a MULTI whose reply was lost with the connection; if the first one had
    run, the script finds its etag and returns that version, even after a rival's commit."""
    put(backend, KEY, {"n": 0})
    real = backend._multi
    rival = open_backend(backend.url)

    def lost_reply_then_resent(build):
        if "commit" not in getattr(build, "__qualname__", ""):
            return real(build)
        real(build)  # ran on the server; the reply never came back
        put(rival, KEY, {"n": 100})  # another host commits in between
        return real(build)  # redis-py's retry sends the same commands again

    monkeypatch.setattr(backend, "_multi", lost_reply_then_resent)
    record = backend.commit(
        KEY, lambda latest: encode({"n": decode(latest.value)["n"] + 1}), ttl=60
    )
    monkeypatch.undo()
    assert record.version == 2
    latest = backend.read(KEY)
    assert (decode(latest.value), latest.version) == ({"n": 100}, 3)
    assert [decode(r.value) for r in backend.history(KEY)] == [{"n": 1}, {"n": 0}]
    rival.close()


def test_scripts_are_reloaded_after_redis_forgets_them(backend, redis_client):
    """A restarted Redis has an empty script cache; every call loads what it needs."""
    put(backend, KEY, 1)
    for call in (
        lambda: backend.read(KEY, ttl=60),
        lambda: backend.touch(KEY, 60),
        lambda: put(backend, KEY, 2),
        lambda: backend.sweep(),
        lambda: backend.delete(KEY),
    ):
        redis_client.script_flush()
        call()
    assert backend.read(KEY) is None


def test_too_contended_store_gives_up_with_a_clear_error(redis_url):
    """A writer that loses every time stops after its budget; its value is never written."""
    b = RedisBackend(redis_url, max_attempts=5, eager_retries=0, backoff_cap=0.001)
    rival = open_backend(redis_url)
    put(b, KEY, 0)

    def always_overtaken(latest):
        put(rival, KEY, decode(latest.value) + 1)  # someone commits while we compute
        return encode("never stored")

    with pytest.raises(BackendError, match="too contended.*unchanged by this one"):
        b.commit(KEY, always_overtaken, ttl=60)
    assert decode(b.read(KEY).value) == 5
    b.close()
    rival.close()


def test_threads_of_one_process_lose_nothing(backend):
    def add(latest):
        value = decode(latest.value) if latest else []
        return encode([*value, threading.get_ident()])

    def run():
        for _ in range(25):
            backend.commit(KEY, add, ttl=60)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = backend.read(KEY)
    assert record.version == 200 and len(decode(record.value)) == 200


def test_cluster_option_and_url_checks(redis_url):
    from dash_stash.backends.redis import safe_url

    assert safe_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert safe_url("rediss://user:pw@h:1/2?x=1") == "rediss://user:***@h:1/2?x=1"
    assert safe_url("redis://h:1/0") == "redis://h:1/0"
    b = open_backend(redis_url + "?socket_timeout=3")
    put(b, KEY, 1)
    assert not b.cluster and decode(b.read(KEY).value) == 1
    b.close()
