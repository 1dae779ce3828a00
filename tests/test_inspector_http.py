"""The inspector's routes attacked over HTTP: production mode, no cookie, another session,
forged tokens, crafted requests; the operator page's authorization; `history`/`restore`."""

from __future__ import annotations

import base64
import re

import orjson
import pytest
import requests

from tests.apps import inspector_app
from tests.support.dash_client import DashClient

pytestmark = [pytest.mark.integration]

PANEL = ["stores", "value", "history", "diff", "restore"]
ROUTES = ["/_dash-stash/", "/_dash-stash/sweep", *(f"/_dash-stash/panel/{n}" for n in PANEL)]


@pytest.fixture
def debug_url(serve, tmp_path):
    return serve(inspector_app.make_app(f"sqlite:///{tmp_path}/stash.db")).url


def inc(client: DashClient, token: str) -> str:
    """Click "inc" once; the new token of `counter`."""
    cb = client.callback("counter.data", ["inc"])
    reply = client.call(cb, {("inc", "n_clicks"): 1, ("counter", "data"): token})
    reply.raise_for_status()
    return reply.json()["response"]["counter"]["data"]


def panel(http: requests.Session, url: str, name: str, **body) -> requests.Response:
    return http.post(f"{url}/_dash-stash/panel/{name}", json=body)


def store(client: DashClient, token: str | None = None) -> dict:
    return {"id": "counter", "token": token or client.prop("counter", "data")}


def answers(http: requests.Session, url: str, path: str) -> list[tuple[int, str]]:
    """What GET, POST (JSON) and POST (form) to `path` get back (Dash's index page carries a
    fresh random id per request: blanked)."""
    return [
        (r.status_code, re.sub(r"[A-Za-z0-9]{24}~[0-9a-f]{64}", "(id)", r.text))
        for r in (
            http.get(url + path),
            http.post(url + path, json={"stores": []}),
            http.post(url + path, data={"q": "x"}),
        )
    ]


@pytest.mark.parametrize("authorizer", [None, lambda request: True])
def test_production_has_no_panel_route(serve, tmp_path, authorizer):
    """No debug: every panel path is answered as any unknown path of the app; without
    `inspector=` the page's paths are too."""
    app = inspector_app.make_app(f"sqlite:///{tmp_path}/s.db", debug=False, inspector=authorizer)
    url = serve(app).url
    http = requests.Session()
    unknown = answers(http, url, "/_dash-stash/no-such-page")
    assert unknown == answers(http, url, "/some/page/nobody/made")  # Dash's own answer
    for path in ROUTES:
        if authorizer is not None and not path.startswith("/_dash-stash/panel/"):
            continue  # the page is on: the authorizer lets everyone in (tested below)
        assert answers(http, url, path) == unknown, path


def test_panel_answers_only_with_this_browsers_tokens(debug_url):
    alice, bob = DashClient(debug_url), DashClient(debug_url)
    token = inc(alice, alice.prop("counter", "data"))
    mine = panel(alice.http, debug_url, "value", **store(alice, token))
    assert mine.status_code == 200 and mine.json()["node"]["children"][0]["preview"] == "1"

    thief_sessions = {
        "another session": bob.http,
        "no cookie": requests.Session(),
    }
    for who, http in thief_sessions.items():
        for name, extra in [
            ("value", {}),
            ("history", {}),
            ("diff", {"a": 0, "b": 1}),
            ("restore", {"version": 1}),
        ]:
            reply = panel(http, debug_url, name, **store(alice, token), **extra)
            assert reply.status_code == 403, (who, name, reply.text)
            assert "count" not in reply.text
        listed = panel(http, debug_url, "stores", stores=[store(alice, token)])
        assert listed.json() == {"stores": []}, who  # a foreign token: as if not on the page
    # alice's store is untouched by the refused restores
    assert (
        panel(alice.http, debug_url, "stores", stores=[store(alice, token)]).json()["stores"][0][
            "version"
        ]
        == 1
    )


def forge(token: str, **changes) -> str:
    """`token` with its payload edited and its signature kept."""
    payload, mac = token[len("ds1.") :].split(".")
    fields = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    names = ["store_id", "scope", "instance", "version", "seed", "ttl", "policy"]
    for name, value in changes.items():
        fields[names.index(name)] = value
    edited = base64.urlsafe_b64encode(orjson.dumps(fields)).rstrip(b"=").decode()
    return f"ds1.{edited}.{mac}"


def test_forged_and_misused_tokens_are_refused(debug_url):
    alice = DashClient(debug_url)
    token = inc(alice, alice.prop("counter", "data"))
    prefs = alice.prop("prefs", "data")
    for bad in [
        forge(token, instance="local"),  # another instance of this session
        forge(token, store_id="prefs"),
        "ds1.e30.AAAAAAAAAAAAAAAAAAAAAAAA",
        "not a token",
    ]:
        reply = panel(alice.http, debug_url, "history", id="counter", token=bad)
        assert reply.status_code == 403, bad
    # a real token of this browser, for another store than the one named
    reply = panel(alice.http, debug_url, "history", id="counter", token=prefs)
    assert reply.status_code == 403 and "another store" in reply.json()["error"]


def test_crafted_panel_requests_get_clear_errors(debug_url):
    alice = DashClient(debug_url)
    token = inc(alice, alice.prop("counter", "data"))
    http, url = alice.http, debug_url
    cases = [
        # a cross-site form can post text/plain or a form without a preflight: not served
        (
            http.post(f"{url}/_dash-stash/panel/restore", data=orjson.dumps(store(alice, token))),
            400,
            "application/json",
        ),
        (
            http.post(f"{url}/_dash-stash/panel/restore", data={"id": "counter", "token": token}),
            400,
            "application/json",
        ),
        (http.get(f"{url}/_dash-stash/panel/stores"), 405, "POST"),
        (http.post(f"{url}/_dash-stash/panel/stores", json=[1, 2]), 400, "JSON object"),
        (panel(http, url, "stores", stores=[store(alice, token)] * 501), 400, "at most 500"),
        (panel(http, url, "restore", **store(alice, token), version="1"), 400, "version"),
        (panel(http, url, "restore", **store(alice, token), version=9), 404, "not kept"),
        (panel(http, url, "value", **store(alice, token), path=["nope"]), 404, "'nope'"),
        (panel(http, url, "value", **store(alice, token), path="count"), 400, "path"),
        (panel(http, url, "value", id=["counter"], token=token), 400, "name a store"),
    ]
    for reply, status, says in cases:
        assert reply.status_code == status, reply.text
        assert says in reply.json()["error"]


def test_operator_page_rights(serve, tmp_path):
    allowed = {"yes": False}

    def authorize(request):
        # only an explicit True lets in: a truthy header value does not
        return allowed["yes"] and request.headers.get("X-Operator") == "1" or "no"

    app = inspector_app.make_app(f"sqlite:///{tmp_path}/s.db", debug=False, inspector=authorize)
    url = serve(app).url
    alice = DashClient(url)
    inc(alice, alice.prop("counter", "data"))
    cookie = next(c.value for c in alice.http.cookies if c.name.startswith("dash_stash_session"))
    for headers in [{}, {"X-Operator": "1"}]:  # refused: nobody is allowed yet
        for reply in (
            requests.get(f"{url}/_dash-stash/", headers=headers),
            requests.post(f"{url}/_dash-stash/sweep", headers=headers),
            alice.http.get(f"{url}/_dash-stash/?q=counter", headers=headers),
        ):
            assert reply.status_code == 403 and "counter" not in reply.text
    allowed["yes"] = True
    assert requests.get(f"{url}/_dash-stash/").status_code == 403  # without the header
    page = requests.get(f"{url}/_dash-stash/", headers={"X-Operator": "1"})
    assert page.status_code == 200 and "counter" in page.text
    assert cookie and cookie not in page.text  # sessions by keyed hash only
    assert '"count"' not in page.text  # the page lists stores; it shows no values
    swept = requests.post(f"{url}/_dash-stash/sweep", headers={"X-Operator": "1"})
    assert swept.status_code == 200 and "Swept 0 expired stores" in swept.text  # redirected


def test_history_and_restore_inside_and_outside_callbacks(serve, tmp_path):
    import dash_stash

    app = inspector_app.make_app(f"sqlite:///{tmp_path}/s.db", debug=False, name="api")
    stash = app._dash_stash
    url = serve(app).url
    alice = DashClient(url)
    token = alice.prop("counter", "data")
    for _ in range(3):
        token = inc(alice, token)
    (key,) = stash.keys("counter")
    kept = dash_stash.history(key)
    assert [(v.version, v.writer, v.kind) for v in kept] == [
        (3, "increment", "patch"),
        (2, "increment", "patch"),
        (1, "increment", "patch"),
    ]
    record = dash_stash.restore(key, 1)
    assert (record.version, record.kind, record.writer) == (4, "restore", "dash_stash.restore")
    assert dash_stash.history(key)[0].details == {"from": 1}
    token = inc(alice, token)  # the next write builds on the restored value
    assert dash_stash.history(key)[0].version == 5
    from dash_stash import codec

    assert codec.decode(stash.engine.backend.read(key).value)["count"] == 2
    with pytest.raises(dash_stash.StashError, match="outside a callback"):
        dash_stash.history("counter")
    with pytest.raises(dash_stash.InspectError, match="version 99 is not kept"):
        dash_stash.restore(key, 99)


def test_history_and_restore_misused_in_callbacks_say_what_to_do(serve, caplog):
    from dash import Dash, Input, Output, html

    import dash_stash

    app = Dash("misuse")
    dash_stash.init(app, "memory://")
    app.layout = html.Div(
        [
            dash_stash.Store(id="doc", data=[]),
            dash_stash.Store(id="other", data=[]),
            html.Button(id="go"),
        ]
    )

    @app.callback(Output("doc", "data"), Input("go", "n_clicks"), prevent_initial_call=True)
    def undo_missing(n):
        if n == 1:
            return ["first"]
        if n == 2:
            return dash_stash.restore("doc", 99)  # never written that far
        if n == 3:
            dash_stash.history("other")  # not an Input, State or Output here
        return dash_stash.restore("doc", 1)  # fine

    c = DashClient(serve(app).url)
    cb = c.callback("doc.data")
    token = c.prop("doc", "data")
    assert c.call(cb, {("go", "n_clicks"): 1, ("doc", "data"): token}).status_code == 200
    assert c.call(cb, {("go", "n_clicks"): 2, ("doc", "data"): token}).status_code == 500
    assert "callback 'undo_missing', store 'doc': doc: version 99 is not kept (kept: 1)" in (
        caplog.text
    )
    assert c.call(cb, {("go", "n_clicks"): 3, ("doc", "data"): token}).status_code == 500
    assert "store 'other' is none of its Inputs, States or Outputs" in caplog.text
    assert "add State('other', 'data')" in caplog.text
    restored = c.call(cb, {("go", "n_clicks"): 4, ("doc", "data"): token})
    assert restored.status_code == 200
    kept = dash_stash.history(app._dash_stash.keys("doc")[0])
    assert [(v.version, v.kind) for v in kept] == [(2, "restore"), (1, "replace")]


def test_panel_serves_pattern_matching_stores(serve, tmp_path):
    from dash import MATCH, Dash, Input, Output, Patch, html

    import dash_stash

    app = Dash("patterns")
    dash_stash.init(app, f"sqlite:///{tmp_path}/s.db")
    app.layout = html.Div(
        [
            html.Div([dash_stash.Store(id={"type": "cart", "index": i}, data=[]) for i in (0, 1)]),
            *[html.Button(id={"type": "add", "index": i}) for i in (0, 1)],
        ]
    )

    @app.callback(
        Output({"type": "cart", "index": MATCH}, "data"),
        Input({"type": "add", "index": MATCH}, "n_clicks"),
        prevent_initial_call=True,
    )
    def add(n):
        patch = Patch()
        patch.append(n)
        return patch

    app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)
    url = serve(app).url
    c = DashClient(url)
    carts = [{"id": {"type": "cart", "index": i}} for i in (0, 1)]
    for cart in carts:
        cart["token"] = c.prop(cart["id"], "data")
    cb = c.callback('{"index":["MATCH"],"type":"cart"}.data')
    body = {
        "output": cb["output"],
        "outputs": {"id": {"type": "cart", "index": 1}, "property": "data"},
        "inputs": [{"id": {"type": "add", "index": 1}, "property": "n_clicks", "value": 7}],
        "state": [{**carts[1], "property": "data", "value": carts[1]["token"]}],
        "changedPropIds": ['{"index":1,"type":"add"}.n_clicks'],
    }
    c.http.post(url + "/_dash-update-component", json=body).raise_for_status()
    listed = panel(c.http, url, "stores", stores=carts).json()["stores"]
    assert [(s["rawId"], s["version"]) for s in listed] == [
        (carts[0]["id"], 0),
        (carts[1]["id"], 1),
    ]
    value = panel(c.http, url, "value", **carts[1]).json()
    assert value["node"]["children"] == [{"key": 0, "type": "json", "preview": "7"}]
    restored = panel(c.http, url, "restore", **carts[1], version=1).json()
    assert restored["version"] == 2 and restored["token"].startswith("ds1.")
