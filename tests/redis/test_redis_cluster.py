"""Redis Cluster (three primaries on loopback): the protocol across slots, and no lost update."""

from __future__ import annotations

import time

import pytest

from dash_stash.backends import Retention, StoreKey, open_backend
from dash_stash.codec import decode, encode
from tests.support.redis_workers import check_final, hammer

pytestmark = pytest.mark.redis


def test_sessions_spread_over_nodes_and_the_protocol_holds(redis_cluster):
    b = open_backend(redis_cluster.url, Retention(versions=2))
    assert b.cluster
    keys = [StoreKey("app", f"session-{i}", "local", "data") for i in range(30)]
    for k in keys:
        for v in range(4):
            b.commit(k, lambda latest, v=v: encode(v), ttl=60, writer="w")
    nodes_used = 0
    for node in redis_cluster.nodes:
        with node.client() as c:
            nodes_used += c.dbsize() > 0
    assert nodes_used == 3  # sessions live on every primary
    assert b.keys("app") == sorted(keys)
    k = keys[7]
    assert (decode(b.read(k, ttl=120).value), b.read(k).version) == (3, 4)
    assert [decode(r.value) for r in b.history(k)] == [2, 1]
    short = StoreKey("app", "session-x", "local", "brief")
    b.commit(short, lambda latest: encode(0), ttl=0.2)
    assert b.touch(k, 60) and b.delete(k) and b.read(k) is None
    time.sleep(0.4)
    assert b.sweep() == 1  # the expired store's index entry, found on whichever node
    assert b.keys("app") == sorted(set(keys) - {k})
    b.close()


def test_cluster_8_processes_x_8_threads_lose_nothing(redis_cluster):
    n = 40  # 64 writers contend on every commit; a broken version check fails at n=20
    stats = hammer(redis_cluster.url, processes=8, threads=8, n=n)
    check_final(redis_cluster.url, 8, 8, n)
    print(f"\nRedis Cluster, 8 processes x 8 threads x {n} commits: {stats}")


def test_cluster_option_on_a_redis_url(redis_cluster):
    port = redis_cluster.nodes[1].port
    b = open_backend(f"redis://127.0.0.1:{port}/0?cluster=true")
    assert b.cluster
    k = StoreKey("app", "s", "local", "d")
    b.commit(k, lambda latest: encode("via any node"), ttl=60)
    assert decode(b.read(k).value) == "via any node"
    b.close()
