"""No lost update on one Redis: 8 processes x 8 threads committing to one key."""

from __future__ import annotations

import pytest

from tests.support.redis_workers import check_final, hammer

pytestmark = pytest.mark.redis


def test_8_processes_x_8_threads_lose_nothing(redis_url):
    # per thread: 50 increments and 50 appends (each commit does one of each). 64 writers
    # contend on every commit (2 attempts per commit, up to 30 for one); a commit script
    # that skips its version check loses updates at n=20 already.
    n = 50
    stats = hammer(redis_url, processes=8, threads=8, n=n)
    check_final(redis_url, 8, 8, n)
    print(f"\nRedis, 8 processes x 8 threads x {n} commits: {stats}")
