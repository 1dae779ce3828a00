"""Attacks on an app whose backend is Redis (issue 8): what a reader of Redis learns, and the
session quota counted there."""

from __future__ import annotations

import pytest

from tests.support.dash_client import DashClient
from tests.support.vault import add_note, output, show_notes, vault_app

pytestmark = [pytest.mark.redis, pytest.mark.integration]


def test_redis_keys_hold_no_session_id_and_quotas_count_there(serve, redis_url, redis_client):
    server = serve(vault_app(redis_url, name="vault_redis", max_session_bytes=250_000))
    victim = DashClient(server.url)
    token = output(add_note(victim, victim.prop("notes", "data"), "diary"), "notes", "data")
    (jar,) = list(victim.http.cookies)
    session = jar.value.split(".")[0]
    names = [k.decode() for k in redis_client.scan_iter(count=1000)]
    assert names and all(session not in n and jar.value not in n for n in names)
    # The quota sees the 200 kB note already kept: 100 kB more is refused, the note stays.
    r = victim.call(
        victim.callback("big.data"), {("size", "value"): 100_000, ("big", "data"): None}
    )
    assert r.status_code == 500
    assert show_notes(victim, token) == ["diary"]


def test_redis_quota_counts_history_written_through_the_browser_route(serve, redis_url):
    """The same attack as `test_history_counts_against_the_session_quota` (big then small in
    fresh instances), on Redis: the older versions kept count against the quota there too."""
    from tests.apps.routes_app import make_app as quota_app
    from tests.support.quota import big_then_small

    server = serve(quota_app(redis_url, "hist_quota_redis", max_session_bytes=300_000))
    # before: all 200, 800 kB kept in a 300 kB quota
    assert big_then_small(DashClient(server.url), 4) == [200, 400, 400, 400]
