"""Live shared stores in real browsers (issue 13): two users (two browser contexts) on one
`storage_type="app"` board served by `gunicorn -w 4 --threads 4` on a SQLite file; each
sees the other's writes without any click of its own, and both end showing every item.

The same scenario runs on two hosts sharing Redis in tests/redis/test_live_redis_browser.py.
"""

from __future__ import annotations

import pytest

from tests.support.live import LIVE_APP, two_users_share_a_board

pytestmark = pytest.mark.browser


def test_two_users_on_gunicorn_workers_and_sqlite_see_each_others_writes(
    gunicorn, browser, tmp_path
):
    env = {"LIVE_APP_BACKEND": f"sqlite:///{tmp_path / 'stash.db'}", "LIVE_APP_HEARTBEAT": "1"}
    server = gunicorn(LIVE_APP, workers=4, env=env)
    two_users_share_a_board(browser, server.url, server.url)
    log = server.stop()
    assert "Traceback" not in log, log
