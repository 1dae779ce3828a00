"""Two Dash apps on one FastAPI server (`tests/apps/multi_app.py`: `/one/` and `/two/`, one SQLite
file, the same store ids in both) attacked from one browser that holds both apps' cookies:
one app's tokens, cookie, group value and routes must be of no use on the other. On FastAPI
(uvicorn), where each app adds its own middleware to the one server (Flask's case, each app's
hooks on one Flask server, is tests/test_integration_http.py's); Dash 4.4 cannot put two apps
on one Quart server (both register Quart's `websocket_handler` endpoint), so Quart has none.
"""

from __future__ import annotations

import pytest
import requests

from tests.conftest import needs_asgi, start_server
from tests.support.dash_client import DashClient
from tests.test_live_http import Events

pytestmark = needs_asgi

SECRET = "m" * 32  # one secret for both apps (the server's), as a deployment has


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    db = tmp_path_factory.mktemp("multi") / "stash.db"
    env = {"DASH_STASH_BACKEND": f"sqlite:///{db}", "DASH_STASH_SECRET": SECRET}
    server = start_server("fastapi", "multi_app:create_server", env=env)
    yield server.url
    print(f"--- server {server.url} said:\n{server.stop()}")


def browser(url: str, team: str = "red") -> tuple[DashClient, DashClient]:
    """One browser (one cookie jar) on both apps: its client of `/one/` and of `/two/`."""
    one = DashClient(f"{url}/one", headers={"X-Team": team})
    two = DashClient(f"{url}/two", headers={"X-Team": team})
    two.http = one.http  # the same jar: both apps' cookies go with every request
    two.http.get(f"{url}/two/").raise_for_status()
    two.layout = two.http.get(f"{url}/two/_dash-layout").json()
    return one, two


def shown(c: DashClient, box: str | None, team: str | None) -> str:
    r = c.call(c.callback("out.children"), {("box", "data"): box, ("team", "data"): team})
    assert r.status_code == 200, r.text
    return r.json()["response"]["out"]["children"]


def inc(c: DashClient, box: str) -> str:
    r = c.call(c.callback("box.data"), {("inc", "n_clicks"): 1, ("box", "data"): box})
    assert r.status_code == 200, r.text
    return r.json()["response"]["box"]["data"]


def write(c: DashClient, store: str, token: str | None, value) -> dict:
    body = {"id": store, "prop": "data", "token": token, "value": value}
    r = c.http.post(c.url + "/_dash-stash/write", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_each_app_has_its_own_cookie_and_one_apps_cookie_opens_no_session_of_the_other(url):
    one, _ = browser(url)
    jar = {cookie.name: cookie.value for cookie in one.http.cookies}
    assert len(jar) == 2  # one cookie per app
    name_two = next(iter(requests.get(f"{url}/two/").cookies.keys()))
    (name_one,) = set(jar) - {name_two}
    # App one's (valid) cookie planted under app two's name: app two makes a fresh session
    planted = requests.Session()
    planted.cookies.set(name_two, jar[name_one])
    r = planted.get(f"{url}/two/_dash-layout")
    assert r.status_code == 200
    assert r.cookies.get(name_two) not in (None, jar[name_one])


def test_one_apps_tokens_read_and_write_nothing_on_the_other(url):
    one, two = browser(url)
    box = inc(one, inc(one, one.prop("box", "data")))
    assert shown(one, box, None).startswith("one:2:")
    # The same store id, the same browser, the other app: its layout data, not app one's
    assert shown(two, box, None).startswith("two:0:")
    r = two.http.post(
        two.url + "/_dash-stash/read",
        json={
            "callback": two.callback("raw.children")["output"],
            "stores": [{"id": "box", "token": box}],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["values"] == [{"app": "two", "n": 0}]
    # A write through app two's route with app one's token goes to app two's own keys
    written = write(two, "box", box, {"app": "forged", "n": 99})["value"]
    assert shown(one, box, None).startswith("one:2:")
    assert shown(two, written, None).startswith("forged:99:")
    # ... and app two's token is of no use on app one either
    assert shown(one, written, None).startswith("one:0:")


def test_a_group_value_of_one_app_is_not_the_same_groups_value_on_the_other(url):
    one, two = browser(url, team="red")
    token = write(one, "team", one.prop("team", "data"), {"app": "one", "secret": "red-plan"})[
        "value"
    ]
    assert "red-plan" in shown(one, one.prop("box", "data"), token)
    # Same group name, same browser, other app: app two's red team reads its layout data
    assert shown(two, two.prop("box", "data"), two.prop("team", "data")).endswith("{'app': 'two'}")
    assert "red-plan" not in shown(two, two.prop("box", "data"), token)
    # App two's live route watches nothing for app one's token (its own keys are others)
    assert Events(two, [{"id": "team", "token": token}]).status == 204
