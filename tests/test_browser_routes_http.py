"""The routes of dash_stash.js, attacked over HTTP: they check session, token and the
callback's declared stores exactly as server callbacks do."""

from __future__ import annotations

import pytest
import requests

from tests.apps import clientside_app
from tests.support.dash_client import DashClient

pytestmark = pytest.mark.integration

SHOW = "cs-show.children"  # a clientside callback reading store "s"
INC = "s.data@"  # prefix of the inline clientside writer of "s"
LAYOUT = {"n": 0, "when": "2024-01-01", "keys": {"1": "a", "2": "b"}}


@pytest.fixture
def url(serve, tmp_path):
    return serve(clientside_app.make_app(f"sqlite:///{tmp_path}/stash.db", name="routes")).url


def read(client: DashClient, token, store="s", callback=SHOW) -> requests.Response:
    return many(client, [{"id": store, "token": token}], callback)


def many(client: DashClient, stores: list, callback=SHOW) -> requests.Response:
    body = {"callback": callback, "stores": stores}
    return client.http.post(client.url + "/_dash-stash/read", json=body)


def write(client: DashClient, token, value, callback=None, store="s") -> requests.Response:
    body = {"id": store, "prop": "data", "token": token, "value": value, "callback": callback}
    return client.http.post(client.url + "/_dash-stash/write", json=body)


def inc_callback(client: DashClient) -> str:
    return next(cb["output"] for cb in client.callbacks if cb["output"].startswith(INC))


def test_read_and_write_through_the_routes(url):
    alice = DashClient(url)
    t0 = alice.prop("s", "data")
    assert read(alice, t0).json() == {"values": [LAYOUT], "versions": [0]}
    t1 = write(alice, t0, {"n": 5}, inc_callback(alice)).json()["value"]
    assert t1.startswith("ds1.") and t1 != t0
    assert read(alice, t1).json() == {"values": [{"n": 5}], "versions": [1]}
    assert write(alice, t1, {"n": 5}).json()["value"] == t1  # unchanged: the same token


def test_another_users_forged_or_cookieless_tokens_read_nothing_of_alices(url, caplog):
    alice, bob = DashClient(url), DashClient(url)
    t_alice = write(alice, alice.prop("s", "data"), {"secret": "alice"}).json()["value"]
    cookieless = requests.post(
        url + "/_dash-stash/read",
        json={"callback": SHOW, "stores": [{"id": "s", "token": t_alice}]},
    )
    for response in (
        read(bob, t_alice),  # Alice's token in Bob's browser
        read(bob, t_alice[:-3] + "xyz"),  # edited
        read(bob, "ds1.W10.AAAA"),  # forged
        cookieless,  # no session cookie at all
    ):
        assert response.status_code == 200
        assert response.json()["values"] == [LAYOUT]  # layout data, never Alice's value
    # Bob writing through Alice's token gets his own value; Alice's is untouched.
    t_bob = write(bob, t_alice, {"secret": "bob"}).json()["value"]
    assert read(bob, t_bob).json()["values"] == [{"secret": "bob"}]
    assert read(alice, t_alice).json()["values"] == [{"secret": "alice"}]


def test_undeclared_stores_unknown_callbacks_and_raw_values_are_refused(url):
    alice = DashClient(url)
    token = alice.prop("s", "data")
    other = alice.prop("user_data", "data")
    cases = [
        (read(alice, other, store="user_data"), "does not read store 'user_data'"),
        (read(alice, token, callback="py-show.children"), "no clientside callback"),
        (read(alice, token, callback="nope.children"), "no clientside callback"),
        (write(alice, other, {}, inc_callback(alice), "user_data"), "does not output store"),
        (read(alice, {"n": 1}), "raw value"),
        (write(alice, {"n": 1}, {"n": 2}), "raw value"),
        (many(alice, [{"id": "s", "token": token}] * 2), "names store 's' twice"),
        (many(alice, [{"id": "s", "token": token}] * 1001), "at most 1000 stores per read"),
    ]
    for response, words in cases:
        assert response.status_code == 400, response.text
        assert words in response.json()["error"]
    assert read(alice, token).json()["values"] == [LAYOUT]  # nothing was written
