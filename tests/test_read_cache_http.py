"""Reads of small frames served from the decoded-value cache (decision 62), over HTTP on a
real threaded server and SQLite: a callback that changes its frame in place changes no one
else's read, a cleared store is not served from the cache, and another browser gets nothing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from dash import Dash, Input, Output, State, html

import dash_stash
from tests.support.dash_client import DashClient

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

ROWS = 1000
STORE = ("table", "data")


def frame() -> pd.DataFrame:
    i = np.arange(ROWS)
    return pd.DataFrame({"f": i * 0.5, "i": i, "I": pd.array(i, dtype="Int64")})


def summary(df) -> str:
    if df is None:
        return "empty"
    sums = f"{df['f'].sum()} {df['i'].sum()} {df['I'].sum()}"
    return f"{sums} {df.iloc[0].tolist()} {df.columns.name}"


def make_app(backend: str) -> Dash:
    app = Dash("read_cache_app")
    dash_stash.init(app, backend)
    app.layout = html.Div(
        [
            dash_stash.Store(id="table"),
            html.Button(id="fill"),
            html.Button(id="clear"),
            html.Button(id="spoil"),
            html.Button(id="show"),
            html.Div(id="spoiled"),
            html.Div(id="out"),
        ]
    )

    @app.callback(Output("table", "data"), Input("fill", "n_clicks"), prevent_initial_call=True)
    def fill(n):
        return frame()

    @app.callback(
        Output("table", "clear_data"), Input("clear", "n_clicks"), prevent_initial_call=True
    )
    def clear(n):
        return True

    @app.callback(
        Output("spoiled", "children"),
        Input("spoil", "n_clicks"),
        State("table", "data"),
        prevent_initial_call=True,
    )
    def spoil(n, df):  # changes its argument in place, as callbacks do
        df.iloc[0] = [-1.0, -1, -1]
        df["f"] += 1
        df.loc[df["i"] > 2, "I"] = -5
        df.columns.name = "spoiled"
        return summary(df)

    @app.callback(
        Output("out", "children"),
        Input("show", "n_clicks"),
        State("table", "data"),
        prevent_initial_call=True,
    )
    def show(n, df):
        return summary(df)

    return app


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.conftest import ThreadedServer

    folder = tmp_path_factory.mktemp("read_cache")
    s = ThreadedServer(make_app(f"sqlite:///{folder}/stash.db"))
    yield s
    s.stop()


def call(c: DashClient, output: str, button: str, token: str | None) -> dict:
    """Run the callback `button` fires, as `c`'s browser (its cookie; a request of its own,
    so that threads may call at once)."""
    body = c.body(c.callback(output, [button]), {(button, "n_clicks"): 1, STORE: token})
    r = requests.post(
        f"{c.url}/_dash-update-component", json=body, cookies=c.http.cookies.get_dict()
    )
    r.raise_for_status()
    return r.json()["response"]


def test_a_frame_changed_in_place_by_one_callback_is_unchanged_for_the_others(server):
    c = DashClient(server.url)
    token = call(c, "table.data", "fill", c.prop("table", "data"))["table"]["data"]
    committed = summary(frame())
    assert call(c, "out.children", "show", token)["out"]["children"] == committed
    spoiled = call(c, "spoiled.children", "spoil", token)["spoiled"]["children"]
    assert spoiled != committed
    # Many reads at once, half of them changing their frame: every other read sees the commit.
    with ThreadPoolExecutor(8) as pool:
        shows = [pool.submit(call, c, "out.children", "show", token) for _ in range(24)]
        spoils = [pool.submit(call, c, "spoiled.children", "spoil", token) for _ in range(24)]
        assert {f.result()["out"]["children"] for f in shows} == {committed}
        assert {f.result()["spoiled"]["children"] for f in spoils} == {spoiled}


def test_a_cleared_store_is_not_served_and_another_browser_gets_nothing(server):
    c = DashClient(server.url)
    token = call(c, "table.data", "fill", c.prop("table", "data"))["table"]["data"]
    assert call(c, "out.children", "show", token)["out"]["children"] == summary(frame())
    other = DashClient(server.url)  # another browser holding this one's token
    other.prop("table", "data")
    assert call(other, "out.children", "show", token)["out"]["children"] == "empty"
    call(c, "table.clear_data", "clear", token)
    assert call(c, "out.children", "show", token)["out"]["children"] == "empty"
