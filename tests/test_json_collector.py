"""Stored JSON is decoded with the garbage collector paused (decision 73), and the collector is
left as the app had it: on after every read (callbacks run with it on), off for an app that
turned it off, on after reads in many threads at once, after a corrupt record, and in a
process forked in the middle of a decode. A real threaded server and SQLite for the reads."""

from __future__ import annotations

import gc
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import requests
from dash import Dash, Input, Output, State, html

import dash_stash
from dash_stash import codec
from dash_stash.codec.collector import paused
from dash_stash.errors import CorruptRecordError
from tests.support.dash_client import DashClient

ROWS = 2000
STORE = ("table", "data")


def records() -> list[dict]:
    return [{"x": i * 0.5, "n": i, "name": f"row {i}"} for i in range(ROWS)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.conftest import ThreadedServer

    app = Dash("json_collector_app")
    dash_stash.init(app, f"sqlite:///{tmp_path_factory.mktemp('collector')}/stash.db")
    app.layout = html.Div(
        [dash_stash.Store(id="table"), html.Button(id="fill"), html.Button(id="show")]
        + [html.Div(id="out")]
    )

    @app.callback(Output("table", "data"), Input("fill", "n_clicks"), prevent_initial_call=True)
    def fill(n):
        return records()

    @app.callback(
        Output("out", "children"),
        Input("show", "n_clicks"),
        State("table", "data"),
        prevent_initial_call=True,
    )
    def show(n, rows):  # what the callback sees: its rows, and the collector as it runs it
        return f"{len(rows)} rows, collector {'on' if gc.isenabled() else 'off'}"

    s = ThreadedServer(app)
    yield s
    s.stop()


def call(c: DashClient, output: str, button: str, token: str | None) -> dict:
    body = c.body(c.callback(output, [button]), {(button, "n_clicks"): 1, STORE: token})
    r = requests.post(
        f"{c.url}/_dash-update-component", json=body, cookies=c.http.cookies.get_dict()
    )
    r.raise_for_status()
    return r.json()["response"]


@pytest.fixture
def filled(server) -> tuple[DashClient, str]:
    c = DashClient(server.url)
    token = call(c, "table.data", "fill", c.prop("table", "data"))["table"]["data"]
    return c, token


def test_callbacks_run_with_the_collector_on_after_their_store_is_decoded(filled):
    c, token = filled
    assert gc.isenabled()
    assert call(c, "out.children", "show", token)["out"]["children"] == (
        f"{ROWS} rows, collector on"
    )
    assert gc.isenabled()


def test_an_app_that_turned_the_collector_off_keeps_it_off_through_reads(filled):
    c, token = filled
    gc.disable()
    try:
        shown = [call(c, "out.children", "show", token)["out"]["children"] for _ in range(3)]
        assert shown == [f"{ROWS} rows, collector off"] * 3
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_reads_in_many_threads_at_once_leave_the_collector_on(filled):
    """While one read decodes, another's callback may see the pause: only the rows and the
    end state are certain."""
    c, token = filled
    with ThreadPoolExecutor(8) as pool:
        shown = list(pool.map(lambda _: call(c, "out.children", "show", token), range(24)))
    assert {s["out"]["children"].split(",")[0] for s in shown} == {f"{ROWS} rows"}
    assert gc.isenabled()


def test_the_collector_stays_paused_until_the_last_of_two_decodes_ends():
    first_in, second_done, first_may_end = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with paused():
            first_in.set()
            first_may_end.wait(10)
        seen["after both"] = gc.isenabled()

    def second() -> None:
        first_in.wait(10)
        with paused():
            seen["inside both"] = gc.isenabled()
        seen["first still inside"] = gc.isenabled()
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    second_done.wait(10)
    first_may_end.set()
    for thread in threads:
        thread.join(10)
    assert seen == {"inside both": False, "first still inside": False, "after both": True}


def test_a_corrupt_record_turns_the_collector_back_on():
    with pytest.raises(CorruptRecordError, match="not valid JSON"):
        codec.decode(codec.Encoded(codec.JSON, b'[{"x": 1}, {"x": '))
    assert gc.isenabled()
    assert codec.decode(codec.Encoded(codec.JSON, orjson.dumps(records()))) == records()
    assert gc.isenabled()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_process_forked_during_a_decode_has_the_collector_on():
    with paused():
        pid = os.fork()
        if pid == 0:  # the child: the decoding thread is not here
            os._exit(0 if gc.isenabled() else 1)
        _, status = os.waitpid(pid, 0)
        assert not gc.isenabled()  # the parent's decode goes on paused
    assert os.waitstatus_to_exitcode(status) == 0
    assert gc.isenabled()


def test_decodes_that_keep_overlapping_do_not_keep_the_collector_off(monkeypatch):
    """Once a pause has lasted `LONGEST` (here: at once), the next decode to end turns the
    collector back on although another is still inside, and none pauses it again until
    all have ended."""
    from dash_stash.codec import collector

    monkeypatch.setattr(collector, "LONGEST", 0.0)
    first, second = paused(), paused()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled()
    first.__exit__(None, None, None)
    assert gc.isenabled()  # the second decode is still inside
    with paused():  # one more overlapping it: no new pause
        assert gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
    with paused():  # none left before it: a new pause
        assert not gc.isenabled()
    assert gc.isenabled()
