"""Dash wiring at the protocol level: real servers, requests posted as dash-renderer posts them."""

from __future__ import annotations

import logging
import threading

import dash
import pytest
import requests
from dash import Dash, Input, Output, State, ctx, html

import dash_stash
from tests.apps import seed_app
from tests.support.dash_client import DashClient

pytestmark = pytest.mark.integration

FIRST = ("first_name", "value")
LAST = ("last_name", "value")
STORE = ("user_data", "data")


@pytest.fixture
def seed(serve, tmp_path, monkeypatch):
    monkeypatch.setattr(seed_app, "DELAY", 0.0)
    return serve(seed_app.make_app(f"sqlite:///{tmp_path}/stash.db"))


def token_of(response) -> str:
    response.raise_for_status()
    return response.json()["response"]["user_data"]["data"]


def shown(client: DashClient, token: str) -> str:
    r = client.call(client.callback("..show.children"), {STORE: token})
    r.raise_for_status()
    return r.json()["response"]["show"]["children"]  # pids: not sent, so none are shown


def test_two_writers_from_one_base_both_count_and_old_tokens_read_latest(seed):
    c = DashClient(seed.url)
    t0 = c.prop("user_data", "data")
    first, last = (
        c.callback("user_data.data", ["first_name"]),
        c.callback("user_data.data", ["last_name"]),
    )
    t1 = token_of(c.call(first, {FIRST: "Mickael", STORE: t0}))
    t2 = token_of(c.call(last, {LAST: "Jackson", STORE: t0}))  # read the same base as t1
    assert t1 != t2
    # The browser may apply t2 then t1: any token reads the latest committed value.
    assert shown(c, t1) == shown(c, t2) == shown(c, t0) == "Mickael Jackson"


def test_concurrent_first_writes_to_a_never_written_store_both_count(serve, tmp_path, monkeypatch):
    monkeypatch.setattr(seed_app, "DELAY", 0.2)  # both callbacks hold the same base at once
    server = serve(seed_app.make_app(f"sqlite:///{tmp_path}/stash.db"))
    for _ in range(3):
        c = DashClient(server.url)
        t0 = c.prop("user_data", "data")
        first = c.callback("user_data.data", ["first_name"])
        last = c.callback("user_data.data", ["last_name"])
        results = {}

        def run(name, cb, values, c=c, results=results):
            results[name] = c.call(cb, values)

        threads = [
            threading.Thread(target=run, args=("a", first, {FIRST: "M", STORE: t0})),
            threading.Thread(target=run, args=("b", last, {LAST: "J", STORE: t0})),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert shown(c, token_of(results["a"])) == "M J"


def test_forged_and_foreign_tokens_read_layout_data_and_warn(seed, caplog):
    alice, bob = DashClient(seed.url), DashClient(seed.url)
    first = alice.callback("user_data.data", ["first_name"])
    t_alice = token_of(alice.call(first, {FIRST: "Alice", STORE: alice.prop("user_data", "data")}))
    assert shown(alice, t_alice) == "Alice None"
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        assert shown(bob, t_alice) == "None None"  # Alice's token in Bob's browser
        assert shown(bob, t_alice[:-3] + "xyz") == "None None"  # edited
        assert shown(bob, "ds1.W10.AAAA") == "None None"  # forged
    assert caplog.text.count("ignoring the token the browser sent") == 3
    # Bob writing through Alice's token creates his own value, never touches hers.
    t_bob = token_of(bob.call(first, {FIRST: "Bob", STORE: t_alice}))
    assert shown(bob, t_bob) == "Bob None"
    assert shown(alice, t_alice) == "Alice None"


def test_two_apps_on_one_backend_with_the_same_store_id_are_isolated(serve, tmp_path, monkeypatch):
    monkeypatch.setattr(seed_app, "DELAY", 0.0)
    url = f"sqlite:///{tmp_path}/shared.db"
    one = serve(seed_app.make_app(url, name="app_one"))
    two = serve(seed_app.make_app(url, name="app_two"))
    c1 = DashClient(one.url)
    c2 = DashClient(two.url)
    c2.http.cookies = c1.http.cookies  # one origin: both apps see the same cookie
    t1 = token_of(
        c1.call(
            c1.callback("user_data.data", ["first_name"]),
            {FIRST: "One", STORE: c1.prop("user_data", "data")},
        )
    )
    assert shown(c1, t1) == "One None"
    assert shown(c2, t1) == "None None"  # app two cannot read app one's token


def test_workers_without_a_secret_agree_on_one(tmp_path):
    url = f"sqlite:///{tmp_path}/stash.db"
    a = dash_stash.init(Dash("worker_a"), url, namespace="same")
    b = dash_stash.init(Dash("worker_b"), url, namespace="same")
    from dash_stash.tokens import Token

    token = a.signer.sign(Token("x", "local", "local", 1), "session-1")
    assert b.signer.verify(token, "session-1").version == 1


def test_explicit_and_env_secrets(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/stash.db"
    from dash_stash.errors import TokenError
    from dash_stash.tokens import Token

    monkeypatch.setenv("DASH_STASH_SECRET", "from-env")
    env = dash_stash.init(Dash("e"), url, namespace="n")
    explicit = dash_stash.init(Dash("x"), url, secret="given", namespace="n")
    token = env.signer.sign(Token("x", "local", "local", 1), "s")
    with pytest.raises(TokenError):
        explicit.signer.verify(token, "s")
    assert dash_stash.init(Dash("e2"), url, namespace="n").signer.verify(token, "s")


def test_callbacks_registered_before_init_and_hidden_state_stays_hidden(serve, tmp_path):
    app = Dash("early")
    app.layout = html.Div(
        [dash_stash.Store(id="early", data={"n": 0}), html.Button(id="go"), html.Div(id="out")]
    )

    @app.callback(Output("early", "data"), Input("go", "n_clicks"), prevent_initial_call=True)
    def write(n):  # registered before init, writes without reading
        return {"n": n, "states_seen": len(ctx.states_list)}

    dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db")

    @app.callback(Output("out", "children"), Input("early", "data"), State("go", "n_clicks"))
    def read(data, _):
        return f"{data['n']}:{data.get('states_seen')}"

    server = serve(app)
    c = DashClient(server.url)
    writer = c.callback("early.data")
    assert writer["state"] == [{"id": "early", "property": "data"}]  # hidden, for the token
    r = c.call(writer, {("go", "n_clicks"): 3, ("early", "data"): c.prop("early", "data")})
    token = r.json()["response"]["early"]["data"]
    r = c.call(c.callback("out.children"), {("early", "data"): token})
    assert r.json()["response"]["out"]["children"] == "3:0"


def test_backend_that_cannot_be_opened_names_the_url(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(dash_stash.BackendError, match="cannot open the SQLite backend"):
        dash_stash.init(Dash("bad"), f"sqlite:///{tmp_path}/file/x.db")


def test_default_backend_is_sqlite_under_dot_dash_stash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DASH_STASH_BACKEND", raising=False)
    stash = dash_stash.init(Dash("default"))
    assert stash.engine.backend.url == "sqlite:///.dash_stash/stash.db"
    assert (tmp_path / ".dash_stash" / "stash.db").exists()
    monkeypatch.setenv("DASH_STASH_BACKEND", "memory://")
    assert dash_stash.init(Dash("env")).engine.backend.url == "memory://"


@pytest.mark.skipif(
    tuple(map(int, dash.__version__.split(".")[:2])) < (3, 1),
    reason="Dash added async callbacks in 3.1",
)
def test_async_callbacks_read_and_write_stores(serve, tmp_path):
    import asyncio

    app = Dash("async_app", use_async=True)
    dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db")
    app.layout = html.Div(
        [dash_stash.Store(id="box", data={"items": []}), html.Button(id="add"), html.Div(id="out")]
    )

    @app.callback(
        Output("box", "data"),
        Input("add", "n_clicks"),
        State("box", "data"),
        prevent_initial_call=True,
    )
    async def add(n, box):
        await asyncio.sleep(0.01)
        box["items"].append(n)
        return box

    @app.callback(Output("out", "children"), Input("box", "data"))
    async def out(box):
        return ",".join(map(str, box["items"]))

    c = DashClient(serve(app).url)
    token = c.prop("box", "data")
    for n in (1, 2):
        r = c.call(c.callback("box.data"), {("add", "n_clicks"): n, ("box", "data"): token})
        token = r.json()["response"]["box"]["data"]
    r = c.call(c.callback("out.children"), {("box", "data"): token})
    assert r.json()["response"]["out"]["children"] == "1,2"


def test_layout_function_data_is_the_starting_value(serve, tmp_path):
    app = Dash("layout_fn")
    dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db")
    calls = []

    def layout():
        calls.append(1)
        return html.Div(
            [dash_stash.Store(id="lf", data={"call": len(calls)}), html.Div(id="lf-out")]
        )

    app.layout = layout

    @app.callback(Output("lf-out", "children"), Input("lf", "data"))
    def show(data):
        return str(data["call"])

    c = DashClient(serve(app).url)
    r = c.call(c.callback("lf-out.children"), {("lf", "data"): c.prop("lf", "data")})
    # the layout function ran for this page load; its data is what the callback reads
    assert r.json()["response"]["lf-out"]["children"] == str(len(calls))


def test_backend_failing_in_a_callback_names_callback_and_store(serve, tmp_path, caplog):
    import shutil

    folder = tmp_path / "data"
    server = serve(seed_app.make_app(f"sqlite:///{folder}/stash.db"))
    c = DashClient(server.url)
    first = c.callback("user_data.data", ["first_name"])
    token = token_of(c.call(first, {FIRST: "Before", STORE: c.prop("user_data", "data")}))
    shutil.rmtree(folder)  # the disk under the backend is gone
    r = c.call(first, {FIRST: "After", STORE: token})
    assert r.status_code == 500
    assert (
        "callback 'update_first_name', store 'user_data': the dash-stash backend failed"
        in caplog.text
    )
    assert "the stored value is unchanged" in caplog.text


def test_a_worker_that_served_no_layout_yet_knows_stores_and_layout_data(
    serve, tmp_path, monkeypatch
):
    """Two workers of one app: the second has served nothing when the first page's callback
    reaches it with a token it cannot verify (say, a cookie cleared since)."""
    monkeypatch.setattr(seed_app, "DELAY", 0.0)
    url = f"sqlite:///{tmp_path}/stash.db"
    first = serve(seed_app.make_app(url, name="workers"))
    second = serve(seed_app.make_app(url, name="workers"))
    c = DashClient(first.url)
    cb = c.callback("user_data.data", ["first_name"])
    c.url = second.url  # the balancer sends the next request to the other worker
    response = c.call(cb, {FIRST: "M", STORE: "ds1.W10.forged"})
    assert shown(c, token_of(response)) == "M None"  # started from the layout's {}


def test_a_store_created_by_a_callback_on_one_worker_is_read_on_another(serve, tmp_path):
    from tests.apps import features_app

    url = f"sqlite:///{tmp_path}/stash.db"
    one = serve(features_app.make_app(url, name="same"))
    two = serve(features_app.make_app(url, name="same"))
    c = DashClient(one.url)
    made = c.call(c.callback("dyn-box.children"), {("make", "n_clicks"): 1}).json()
    token = made["response"]["dyn-box"]["children"]["props"]["data"]
    c.url = two.url  # worker two never ran `make`, so it never saw the Store component
    r = c.call(c.callback("dyn-show.children"), {("dyn", "data"): token})
    assert r.json()["response"]["dyn-show"]["children"] == "made=1 n=0"


def test_init_twice_is_an_error(tmp_path):
    app = Dash("twice")
    dash_stash.init(app, "memory://")
    with pytest.raises(dash_stash.StashError, match="called twice"):
        dash_stash.init(app, "memory://")


def test_stores_listed_in_validation_layout_get_hidden_states_before_any_page(serve):
    app = Dash("validation")
    dash_stash.init(app, "memory://")
    app.layout = html.Div([html.Button(id="make"), html.Div(id="box"), html.Button(id="go")])
    app.validation_layout = html.Div([app.layout, dash_stash.Store(id="later", data=[])])

    @app.callback(Output("later", "data"), Input("go", "n_clicks"), prevent_initial_call=True)
    def write_later(n):
        return [n]

    c = DashClient(serve(app).url)
    assert c.callback("later.data")["state"] == [{"id": "later", "property": "data"}]


def test_a_raw_value_where_a_token_belongs_is_an_error_naming_callback_and_store(seed, caplog):
    c = DashClient(seed.url)
    first = c.callback("user_data.data", ["first_name"])
    t0 = token_of(c.call(first, {FIRST: "Ada", STORE: c.prop("user_data", "data")}))
    raw = {"first_name": "Mallory"}  # as if a script had set the store's data in the browser
    for cb in (c.callback("..show.children"), first):  # a reader, and a writer that reads
        response = c.call(cb, {STORE: raw, FIRST: "Eve"})
        assert response.status_code == 500
    assert "store 'user_data': the browser sent a raw value (dict)" in caplog.text
    assert "callback 'show'" in caplog.text and "callback 'update_first_name'" in caplog.text
    assert shown(c, t0) == "Ada None"  # nothing was written


def test_a_store_in_running_is_refused_before_any_page(serve, tmp_path, caplog):
    app = Dash("running")
    dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db")
    app.layout = html.Div([dash_stash.Store(id="busy", data=False), html.Button(id="go")])

    @app.callback(
        Output("go", "children"),
        Input("go", "n_clicks"),
        running=[(Output("busy", "data"), True, False)],
    )
    def go(n):
        return str(n)

    server = serve(app)
    assert requests.get(server.url + "/").status_code == 500
    assert "callback 'go.children' sets dash-stash store 'busy' in running=[...]" in caplog.text


def test_a_worker_that_never_saw_a_typed_store_keeps_it_typed(tmp_path):
    """`typed` travels in the token, like ttl and policy: another worker writes it the same."""
    import numpy as np

    from dash_stash.tokens import Signer, Token

    signer = Signer("k", "n")
    for typed in (True, False):
        token = Token("s", "memory", "page-1", 3, "", 60.0, "raise", typed)
        assert signer.verify(signer.sign(token, "sess"), "sess") == token

    url = f"sqlite:///{tmp_path}/stash.db"
    app = Dash("minted_here")
    stash = dash_stash.init(app, url, secret="k", namespace="same")
    other = dash_stash.init(Dash("never_saw"), url, secret="k", namespace="same")
    from dash_stash.adapter import web

    with app.server.test_request_context("/"):
        web.enter(web.RequestState(stash.web, "a" * 32, True, None))  # what the hook sets
        spec = dash_stash.Store(id="s", typed=True)._stash_spec
        sent = stash.token("s", spec, "page-1", 0, "")
        seen = other.spec_from_token("s", sent)
        assert seen is not None and other.typed(seen) is True
        value = {"a": np.arange(2)}
        assert other.engine.encode(value, "s", typed=other.typed(seen)).codec == "typed"
        assert other.engine.encode(value, "s", typed=False).codec == "json"


def test_two_dash_apps_on_one_flask_server_each_serve_their_own_stores(serve, tmp_path):
    """Plotly's pattern: one Flask server, two Dash apps under two URL prefixes, one backend.
    Each request is served by the stash of the app it is for, whichever app was made last."""
    import flask

    server = flask.Flask("multi")
    url = f"sqlite:///{tmp_path}/stash.db"
    apps = {}
    for name, start in (("one", 0), ("two", 100)):
        app = Dash(f"multi_{name}", server=server, url_base_pathname=f"/{name}/")
        dash_stash.init(app, url)
        app.layout = html.Div(
            [
                dash_stash.Store(id="box", data={"n": start}),
                html.Button(id="inc"),
                html.Div(id="out"),
            ]
        )

        @app.callback(
            Output("box", "data"),
            Input("inc", "n_clicks"),
            State("box", "data"),
            prevent_initial_call=True,
        )
        def inc(_, box):
            box["n"] += 1
            return box

        @app.callback(Output("out", "children"), Input("box", "data"))
        def out(box):
            return str(box["n"])

        apps[name] = app
    base = serve(apps["one"]).url
    for name, start in (("one", 0), ("two", 100)):
        c = DashClient(f"{base}/{name}")
        token = c.prop("box", "data")
        for _ in range(2):
            r = c.call(c.callback("box.data"), {("inc", "n_clicks"): 1, ("box", "data"): token})
            assert r.status_code == 200, r.text
            token = r.json()["response"]["box"]["data"]
        r = c.call(c.callback("out.children"), {("box", "data"): token})
        assert r.json()["response"]["out"]["children"] == str(start + 2)
    one, two = (apps[n]._dash_stash for n in ("one", "two"))
    assert one.namespace != two.namespace
    for stash in (one, two):  # each app's writes are in its own namespace
        keys = stash.engine.backend.keys(stash.namespace)
        assert [k.store_id for k in keys if k.session] == ["box"]


def test_set_props_patch_on_a_store_the_callback_does_not_read_is_refused(serve, tmp_path, caplog):
    """Without the store as Input or State there is no tab whose value the Patch applies to:
    the callback fails naming itself, the store and the fix, and nothing is committed."""
    app = Dash("unread_patch")
    stash = dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db")
    app.layout = html.Div(
        [dash_stash.Store(id="notes", data=["a"]), html.Button(id="go"), html.Div(id="msg")]
    )

    @app.callback(Output("msg", "children"), Input("go", "n_clicks"), prevent_initial_call=True)
    def append_note(n):
        patch = dash.Patch()
        patch.append("b")
        dash.set_props("notes", {"data": patch})
        return "appended"

    c = DashClient(serve(app).url)
    response = c.call(c.callback("msg.children"), {("go", "n_clicks"): 1})
    assert response.status_code == 500
    assert (
        "callback 'append_note' patches store 'notes' with set_props, but does not read it"
        in caplog.text
    )
    assert "add State('notes', 'data') to the callback" in caplog.text
    written = [k for k in stash.engine.backend.keys(stash.namespace) if k.store_id == "notes"]
    assert written == []  # no instance holding only ["b"]
