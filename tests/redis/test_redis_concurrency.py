"""No lost update on one Redis: 8 processes x 8 threads committing to one key."""

from __future__ import annotations

import pytest

from tests.support.redis_workers import check_final, hammer

pytestmark = pytest.mark.redis


def test_8_processes_x_8_threads_lose_nothing(redis_url):
    n = 250  # per thread: 250 increments and 250 appends (each commit does one of each)
    stats = hammer(redis_url, processes=8, threads=8, n=n)
    check_final(redis_url, 8, 8, n)
    print(f"\nRedis, 8 processes x 8 threads x {n} commits: {stats}")
