"""Live shared stores across two app hosts on one Redis (issue 13): each host is its own
gunicorn process, so a commit on one reaches the other's open pages only through Redis
pub/sub."""

from __future__ import annotations

import pytest

from tests.support.live import LIVE_APP, two_users_share_a_board

pytestmark = [pytest.mark.redis, pytest.mark.browser]


def test_two_users_on_two_hosts_sharing_redis_see_each_others_writes(gunicorn, browser, redis_url):
    env = {"LIVE_APP_BACKEND": redis_url, "LIVE_APP_HEARTBEAT": "1"}
    hosts = [gunicorn(LIVE_APP, workers=1, env=env) for _ in range(2)]
    two_users_share_a_board(browser, hosts[0].url, hosts[1].url)
    for host in hosts:
        log = host.stop()
        assert "Traceback" not in log, log
