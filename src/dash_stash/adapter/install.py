"""`dash_stash.init(app)`: give one Dash app server-side stores.

It builds the app's `Stash` (integration.py) and plugs it into the app: the callback wiring
(callbacks.py), the request side (web.py, one `Web` per server: servers.py), the browser
routes (browser.py) and the inspector (inspector.py). The only module that knows all of
them, so none of them imports another above it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import Dash

from ..backends import Retention, default_backend_url
from ..codec import Compression
from ..errors import StashError
from . import _compat, background, browser, servers
from .callbacks import CallbackWiring
from .inspector import Inspector
from .integration import (
    DEFAULT_MAX_SESSION_BYTES,
    DEFAULT_MAX_SESSION_INSTANCES,
    DEFAULT_MAX_VALUE_BYTES,
    Quota,
    Stash,
    register,
)
from .stream import LiveRoute


def init(
    app: Dash,
    backend: str | None = None,
    secret: str | bytes | None = None,
    *,
    namespace: str | None = None,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    max_session_bytes: int = DEFAULT_MAX_SESSION_BYTES,
    max_session_instances: int = DEFAULT_MAX_SESSION_INSTANCES,
    retention: Retention | None = None,
    cookie_name: str | None = None,
    inspector: Callable[[Any], Any] | None = None,
    typed: bool = False,
    compression: str | None = None,
    live_streams: int | None = None,
    secure_cookie: bool = False,
) -> Stash:
    """Give `app` server-side stores. Call once per app, before it serves requests.

    `backend` is a URL (`memory://`, `sqlite:///path.db`, `redis://host:port/0`); without it,
    `DASH_STASH_BACKEND`, else SQLite under `./.dash_stash/`. `secret` signs tokens: else
    `DASH_STASH_SECRET`, else the server's `secret_key` (Flask, Quart), else one generated
    once and kept in the backend so that every worker agrees (so a copy of the backend can
    mint tokens: set a secret in production). `namespace` defaults to the app's name, folder and URL
    prefix. `max_value_bytes` bounds one store's encoded value; `max_session_bytes` and
    `max_session_instances` bound what one browser session may keep (a write over them fails
    with `QuotaError`). `cookie_name` defaults to one per namespace.

    `inspector` authorizes the operator page at `<prefix>_dash-stash/` outside debug mode:
    called with the request, it returns True to serve it, or a response to send instead (a
    401 asking for a password); anything else refuses it (403). See docs/inspector.md.

    `typed=True` makes every `Store` keep values exactly (numpy arrays, Timestamps,
    tuples...) unless it says `typed=False`; by default a value reads back as `dcc.Store`
    gives it back (see the README).

    `compression` ("lz4" or "zstd"; off by default, which is faster on a local disk)
    compresses tables and arrays of 1 MiB or more when a sample shows it pays: worth it
    when bytes cost more than CPU (Redis over a network, disk space).

    `live_streams` is how many open pages one server process may keep a held live stream
    for (each takes a thread on a threaded server); by default the server decides: half of
    gunicorn's `--threads`, no limit on gevent/eventlet and werkzeug's threaded server,
    none on a sync worker, 2 on other threaded servers. Pages without one ask again every
    second or so instead (docs/design.md "Live updates").

    `secure_cookie=True` makes the session cookie `__Host-...; Secure` on every request,
    for an app served only over HTTPS whose server cannot tell (a TLS proxy it does not
    trust): the one way on FastAPI besides uvicorn's `--forwarded-allow-ips` (Flask and
    Quart also take `SESSION_COOKIE_SECURE`). Browsers then never send it over plain HTTP.
    """
    if getattr(app, "_dash_stash", None) is not None:
        raise StashError(
            "dash_stash.init(app) was called twice for this app; call it once, "
            "right after creating the app"
        )
    _compat.probe(app)  # every Dash internal we use, now rather than at a click
    setup = _compat.serialize_first_setup(app)  # plotly/dash#3971: no page stuck on Loading...
    server = servers.for_app(app)  # refuses a server we cannot serve, before any work
    stash = Stash(
        app,
        backend or default_backend_url(),
        secret,
        namespace=namespace,
        max_value_bytes=max_value_bytes,
        retention=retention,
        cookie_name=cookie_name,
        quota=Quota(max_session_bytes, max_session_instances),
        folder=server.folder(app),
        server_secret=server.secret_key(app),
        typed=typed,
        compression=Compression(compression),
    )
    wiring = stash.wiring = CallbackWiring(stash, background.wrap_background)
    panel = Inspector(stash, inspector)

    def on_request() -> None:  # wrap callbacks added since; keep the namespace claimed
        wiring.update()
        stash.keep_claim()

    stash.web = server(
        app, stash, stash.cookie_name, stash.signer, on_request, panel.intercept, secure_cookie
    )
    stash.web.install(setup)
    browser.Routes(stash).install()
    background.install()  # a Celery worker wraps its jobs before each task
    stash.live = LiveRoute(stash, live_streams)  # open pages follow their stores' changes
    stash.live.install()
    app._dash_stash = stash  # type: ignore[attr-defined]
    register(stash)
    return stash
