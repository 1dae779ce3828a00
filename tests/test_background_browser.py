"""Background callbacks read and write stores, in a real browser, with Dash's real
DiskcacheManager (its job subprocesses); tests/test_background_celery_browser.py does the
same with a Celery worker.

The app (tests/apps/background_app.py) runs under gunicorn, as users run it; the same page
runs on `dcc.Store` and on `dash_stash.Store`, and what the user sees must match."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.background_page import check_midway, expected, use

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_a_background_job_fills_a_store_as_it_fills_a_dcc_store(gunicorn, browser, tmp_path):
    results = {}
    for kind in ("dcc", "stash"):
        env = {
            "BG_MANAGER": "diskcache",
            "BG_STORE": kind,
            "BG_CACHE_DIR": str(tmp_path / kind / "cache"),
            "BG_HEARTBEAT": "1",
            "DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db",
        }
        server = gunicorn("background_app:server", workers=1, env=env)
        context = browser.new_context()
        results[kind] = use(context.new_page(), server.url)
        context.close()
        check_midway(results[kind]["first"])
        check_midway(results[kind]["second"])
    assert results["stash"] == results["dcc"] == expected()


def test_a_job_on_a_memory_backend_says_which_backend_it_needs(gunicorn, page, tmp_path):
    """memory:// lives in the web process: the job's subprocess must not read a copy of it
    and write where nobody reads."""
    env = {
        "BG_MANAGER": "diskcache",
        "BG_CACHE_DIR": str(tmp_path / "cache"),
        "BG_HEARTBEAT": "1",
        "DASH_STASH_BACKEND": "memory://",
    }
    page.goto(gunicorn("background_app:server", workers=1, env=env).url)
    expect(page.locator("#show")).to_have_text('{"bumps": 0, "rows": []}')
    page.click("#a")
    expect(page.locator("#error")).to_contain_text("'memory://' lives in one process only")
    expect(page.locator("#error")).to_contain_text("sqlite:///<path> on one host, or redis://")
    expect(page.locator("#show")).to_have_text('{"bumps": 0, "rows": []}')


def test_a_local_store_cannot_take_a_progress_default(serve, page, tmp_path, caplog):
    """One value per browser cannot go back to its default while keeping the job's
    progress: refused (500) before any job starts, with an error naming the store."""
    import diskcache
    from dash import Dash, DiskcacheManager, Input, Output, html

    import dash_stash

    manager = DiskcacheManager(diskcache.Cache(str(tmp_path / "cache")))
    app = Dash(__name__, background_callback_manager=manager)
    dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db")
    app.layout = html.Div(
        [
            html.Button("go", id="go"),
            dash_stash.Store(id="seen", storage_type="local"),
            html.Pre(id="out"),
        ]
    )

    @app.callback(
        Output("out", "children"),
        Input("go", "n_clicks"),
        background=True,
        progress=[Output("seen", "data")],
        progress_default=[None],
        prevent_initial_call=True,
    )
    def go(set_progress, n_clicks):
        set_progress("halfway")
        return "done"

    page.goto(serve(app).url)
    with page.expect_response(lambda r: "_dash-update-component" in r.url) as started:
        page.click("#go")
    assert started.value.status == 500
    errors = [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert any("'go'" in e and "store 'seen' has storage_type='local'" in e for e in errors)
    expect(page.locator("#out")).to_have_text("")


def test_news_of_an_instance_the_page_left_does_not_come_back(serve, page, tmp_path):
    """The race behind a job's progress_default (decision 77), set up without timing: the
    page's live stream watches the instance a store held when the page subscribed; the
    store then moves to a new instance (a background job's progress_default; here a
    set_props on an undeclared store), and the old instance goes on changing (there, the
    job's last progress, told after the job's end). The page keeps what it was given, as a
    dcc.Store does: the old instance's news is not what it shows."""
    from dash import Dash, Input, Output, State, html, set_props

    import dash_stash
    from tests.support.dash_client import DashClient

    app = Dash(__name__)
    dash_stash.init(app, f"sqlite:///{tmp_path}/stash.db")
    app.layout = html.Div(
        [
            html.Button("fresh", id="fresh"),
            dash_stash.Store(id="s", data="A"),
            dash_stash.Store(id="t", data=0),
            html.Pre(id="shown"),
            html.Pre(id="ticks"),
            html.Pre(id="done"),
        ]
    )

    @app.callback(Output("done", "children"), Input("fresh", "n_clicks"), prevent_initial_call=True)
    def fresh(n_clicks):
        set_props("s", {"data": "B"})  # not declared: a new instance
        return n_clicks

    for store in ("s", "t"):  # written by the other client below, from the tokens it has
        app.callback(
            Output(store, "data", allow_duplicate=True),
            Input("done", "title"),
            State(store, "data"),
            prevent_initial_call=True,
        )(lambda _, data: data + 1 if isinstance(data, int) else f"{data}+")

    @app.callback(Output("shown", "children"), Input("s", "data"))
    def show(data):
        return data

    @app.callback(Output("ticks", "children"), Input("t", "data"))
    def show_ticks(data):
        return str(data)

    url = serve(app).url
    with page.expect_request(lambda r: "_dash-stash/live" in r.url):  # the page subscribes
        page.goto(url)
    expect(page.locator("#shown")).to_have_text("A")
    expect(page.locator("#ticks")).to_have_text("0")
    tokens = page.evaluate("['s', 't'].map(i => window.dash_component_api.getLayout(i).props.data)")
    page.click("#fresh")
    expect(page.locator("#shown")).to_have_text("B")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    other = DashClient(url, {"Cookie": cookie})  # the same session (a job's process, there)
    for store, token, times in (("s", tokens[0], 3), ("t", tokens[1], 1)):
        cb = other.callback(f"{store}.data")
        for _ in range(times):  # the old instance of s, past the version of its new one
            answer = other.call(cb, {("done", "title"): "x", (store, "data"): token})
            assert answer.status_code == 200, answer.text
            token = answer.json()["response"][store]["data"]
    expect(page.locator("#ticks")).to_have_text("1")  # the live events reached the page
    page.wait_for_function(IDLE)  # and any callback they set going has run
    assert page.locator("#shown").text_content() == "B"


IDLE = """() => {
    var callbacks = window.store.getState().callbacks || {};
    return ["requested", "prioritized", "blocked", "executing", "watched", "executed"]
        .every(function (k) { return !(callbacks[k] || []).length; });
}"""
