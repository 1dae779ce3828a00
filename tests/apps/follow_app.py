"""An app whose page shows only its own stores (tests/test_live_follow.py, benchmarks/live.py):
`mine` (`session`: this tab, across reloads) and `scratch` (`memory`: this page load), each
counted up by a button and shown by a callback. No shared store: the page is not hot, so
on a threaded server it follows its stores by short asks, not by a held stream, except
while its background callback `work` (DiskcacheManager; it sleeps `FOLLOW_APP_WORK`
seconds, 3 by default) runs.

`serve_writes(backend)`, run in another process on the same backend, commits to a store's
key (a `StoreKey` from `Stash.keys`) as a script or another host would, or makes an old
version current again with `dash_stash.restore(key, version)`: one JSON line of stdin each.

Under gunicorn: `FOLLOW_APP_BACKEND` makes the module-level `server`; `FOLLOW_APP_HEARTBEAT`
sets the live route's heartbeat (so a test's closed streams free their threads soon).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import diskcache
from dash import Dash, DiskcacheManager, Input, Output, State, html

import dash_stash
from dash_stash.engine import Replace


def make_app(backend: str) -> Dash:
    cache = diskcache.Cache(os.environ.get("FOLLOW_APP_CACHE") or tempfile.mkdtemp())
    app = Dash("follow_app", background_callback_manager=DiskcacheManager(cache))
    dash_stash.init(app, backend, secret="follow-app-token-secret")
    app._dash_stash.live.heartbeat = float(os.environ.get("FOLLOW_APP_HEARTBEAT", "15"))
    app.layout = html.Div(
        [
            dash_stash.Store(id="mine", storage_type="session", data=0),
            dash_stash.Store(id="scratch", storage_type="memory", data=0),
            html.Button("mine", id="mine-add"),
            html.Button("scratch", id="scratch-add"),
            html.Button("work", id="work"),
            html.Div(id="mine-out"),
            html.Div(id="scratch-out"),
            html.Div(id="work-out"),
        ]
    )
    for name in ("mine", "scratch"):
        _counter(app, name)

    @app.callback(
        Output("work-out", "children"),
        Input("work", "n_clicks"),
        background=True,
        prevent_initial_call=True,
    )
    def work(n):
        time.sleep(float(os.environ.get("FOLLOW_APP_WORK", "3")))
        return f"done {n}"

    return app


def _counter(app: Dash, name: str) -> None:
    @app.callback(
        Output(name, "data"),
        Input(f"{name}-add", "n_clicks"),
        State(name, "data"),
        prevent_initial_call=True,
    )
    def add(n, value):
        return value + 1

    @app.callback(Output(f"{name}-out", "children"), Input(name, "data"))
    def show(value):
        return json.dumps(value)


def write(
    stash: dash_stash.Stash,
    store: str,
    match: int | None = None,
    instance: str | None = None,
    value: int | None = None,
    version: int | None = None,
) -> None:
    """From outside any request: commit `value` to the key of `store` whose value is
    `match` (or of scope instance `instance`), or make its `version` current again with
    `dash_stash.restore(key, version)`."""
    (key,) = [
        k
        for k in stash.keys(store)
        if (instance is None or k.scope == instance)
        and (match is None or stash.engine.read(k)[0] == match)
    ]
    if value is not None:
        stash.engine.commit(key, Replace(value), ttl=3600, writer="follow_app.write")
    if version is not None:
        dash_stash.restore(key, version)


def serve_writes(backend: str) -> None:
    """Another process that writes: one `write` per JSON line of stdin, "ok" per line out."""
    stash = make_app(backend)._dash_stash
    for line in sys.stdin:
        write(stash, **json.loads(line))
        print("ok", flush=True)


_backend = os.environ.get("FOLLOW_APP_BACKEND")
server = make_app(_backend).server if _backend else None
