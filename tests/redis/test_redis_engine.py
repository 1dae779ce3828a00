"""The engine on Redis: `dash.Patch` writes and three-way merges from many processes."""

from __future__ import annotations

import pytest

from dash_stash.backends import open_backend
from dash_stash.engine import StashEngine
from tests.support.stress import KEY, hammer  # the engine's own stress writers

pytestmark = pytest.mark.redis


def test_engine_patches_and_merges_lose_nothing(redis_url):
    hammer(redis_url, processes=8, threads=8, n=40, mode="patch")
    value, record = StashEngine(open_backend(redis_url)).read(KEY)
    assert value["count"] == 8 * 8 * 40 and len(value["items"]) == 8 * 8 * 40
    assert record.version == 2 * 8 * 8 * 40  # one commit for the append, one for the count

    open_backend(redis_url).delete(KEY)
    hammer(redis_url, processes=8, threads=8, n=20, mode="merge")
    value, record = StashEngine(open_backend(redis_url)).read(KEY)
    assert value == {f"p{p}t{t}": 20 for p in range(8) for t in range(8)}
    assert record.version == 8 * 8 * 20


def test_versions_keep_kind_of_write_and_merge_conflicts(redis_url):
    from tests.support.write_kinds import check_kinds  # the same check as on memory and SQLite

    check_kinds(open_backend(redis_url))
