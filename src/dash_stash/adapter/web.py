"""The request side: per-request state, the session cookie, dash-stash's own routes.

dash-stash needs little from a request: its cookies, path, method, query string and JSON
body, a cookie set on its response, a few JSON routes, and a hook before the app routes it.
`Web` is that interface, with one implementation per server Dash runs on:

- `web_flask.FlaskWeb`: Flask (every Dash version; WSGI, threads);
- `web_fastapi.FastAPIWeb`: FastAPI (Dash 4.2+; ASGI, under uvicorn), an ASGI middleware;
- `web_quart.QuartWeb`: Quart (Dash 4.2+; ASGI, under hypercorn), Quart's own hooks.

`servers.for_app(app)` picks one; any other server is refused at `init`.

Per-request state (the stash, the browser session, the cookie to set) is a `RequestState` in
a context variable, not Flask's `g`: async servers run many requests on one thread, and the
threads a sync callback or route runs in (FastAPI's and Quart's pools, Dash's websocket
pool) are given a copy of the context of the request that started them, so they see it too.
A websocket connection's state is made once, from its handshake's cookie, and every
callback that runs over the socket sees it.

Every rule about sessions lives here; routes (dash-stash's own included) ask through the
functions at the end of this module:

- `session_id()`: this request's session id (what tokens are bound to);
- `session_key()`: the keyed hash of it that backend keys hold (never the cookie value);
- `has_session()`: did the browser send a valid, server-made session cookie? Without one a
  request can never read back what it writes, so it must commit nothing.

The session cookie is set only on the Dash app's own routes (its pages and `_dash-` routes,
`_dash-stash/` included), never on static files: HttpOnly, SameSite=Lax, `Secure` and a
`__Host-` name when the request is HTTPS (behind a proxy: see docs/security.md) or the
server's `SESSION_COOKIE_SECURE` is set, and `Cache-Control: private`.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from ..errors import StashError
from ..tokens import Signer

log = logging.getLogger("dash_stash")

COOKIE = "dash_stash_session"
COOKIE_MAX_AGE = 400 * 86400  # the longest browsers keep a cookie
# Dash's requests carry tokens and component values; 16 MiB lets a page post its inputs
# (dcc.Upload contents are base64 in the body) while refusing a flood. The server's own
# limit (Flask's and Quart's MAX_CONTENT_LENGTH), when the app sets one, wins.
DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
JSON = "application/json"


@dataclass
class Reply:
    """A response, independent of the web framework."""

    status: int
    body: str | bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


# Given (method, path) of a request, a reply to send instead of routing it (a `Reply`, or the
# framework's own response), or None to let the app route it as if we were not there.
Intercept = Callable[[str, str], Any]


class Request:
    """What dash-stash reads of one request, whatever the server (each server fills it in)."""

    def __init__(
        self,
        method: str,
        path: str,
        native: Any,
        args: Callable[[], dict[str, str]],
        body: Callable[[], Any],
    ) -> None:
        self.method = method
        self.path = path
        self.native = native  # the framework's own request (for an `inspector=` authorizer)
        self._args = args
        self._body = body

    def args(self) -> dict[str, str]:
        """The query string (and form fields, on servers that parse them)."""
        return self._args()

    def json(self) -> Any:
        """The JSON body; None unless it was sent as application/json and parses."""
        return self._body()


@dataclass
class RequestState:
    """One request's (or one websocket connection's) dash-stash state."""

    web: Web
    session: str
    valid_session: bool
    request: Request
    set_cookie: str | None = None  # a Set-Cookie header value for the response, or None


_STATE: contextvars.ContextVar[RequestState | None] = contextvars.ContextVar(
    "dash_stash_request", default=None
)


class Web:
    """The request side of one Dash app on one server: subclasses implement `install`,
    `add_json_route` and the few facts below for their framework."""

    raise_limit: ClassVar[str] = ""  # how to allow larger request bodies on this server
    # the longest a held stream waits before it ends (None: the stream's own `hold`), for a
    # server that will not stop while a response is open
    longest_hold: float | None = None

    def __init__(
        self,
        app: Any,
        owner: Any,
        cookie_name: str,
        signer: Signer,
        on_request: Callable[[], None],
        intercept: Intercept | None,
        secure_cookie: bool = False,
    ) -> None:
        self.app = app
        self.secure_cookie = secure_cookie  # `init(secure_cookie=True)`: Secure on any request
        self.server = app.server
        self.owner = owner  # the app's `Stash`
        self.cookie_name = cookie_name
        self.signer = signer
        self.prefix = app.config.routes_pathname_prefix or "/"
        self.on_request = on_request
        self.intercept = intercept
        # Several Dash apps may share one server (`Dash(server=..., url_base_pathname=...)`)
        self._webs = _WEBS.setdefault(self.server, [])
        self._webs.append(self)

    # -- what each server implements ---------------------------------------------------

    def install(self, setup: Callable[[], None]) -> None:
        """Hook the server: `setup` (Dash's once-only server setup, made safe to call from
        any thread) must run before `on_request`; then, before each of this app's requests,
        a `RequestState` is set, `on_request` runs, and `intercept` may answer."""
        raise NotImplementedError

    def add_json_route(self, path: str, handler: Callable[[dict], bytes]) -> None:
        """A POST route taking a JSON object; `handler` returns JSON bytes (see `answer`)."""
        raise NotImplementedError

    def add_stream_route(self, path: str, handler: Callable[[dict, bool], Steps | None]) -> bool:
        """A POST route taking a JSON object and answering a stream of Server-Sent Events:
        `handler(body, can_hold)` gives the stream's steps (`Steps`; None: nothing to
        stream, 204), where `can_hold` says whether a held response leaves the server able
        to serve others. The stream runs in the request's state and ends when the browser
        goes away (WSGI: its next chunk fails to send; ASGI: at once, on the server's
        disconnect message). False: this server has no such route (no live updates)."""
        return False

    def stream_slots(self) -> int | None:
        """How many held streams this server process can afford at once, asked during a
        stream route's request: None for no limit of its own (a held response costs it
        next to nothing), else a number that leaves it threads for the app's callbacks."""
        return None

    @classmethod
    def secret_key(cls, app: Any) -> str | bytes | None:
        """The server's own secret (Flask's and Quart's `secret_key`), if it has one."""
        return getattr(app.server, "secret_key", None)

    @classmethod
    def folder(cls, app: Any) -> str:
        """The folder the app lives in (part of its default namespace)."""
        return str(app.server.root_path)

    def bad_request(self, message: str) -> Exception:
        """The exception that makes this server answer 400 with `message`."""
        raise NotImplementedError

    def is_response(self, value: Any) -> bool:
        """Is `value` a response of this server's framework (an authorizer's own answer)?"""
        raise NotImplementedError

    # -- shared rules ------------------------------------------------------------------

    def mine(self, path: str) -> bool:
        """Is a request for `path` this app's? It is when its path is under this app's URL
        prefix and under no longer prefix of another app on the server, whatever order the
        apps were made in."""
        under = [web for web in self._webs if path.startswith(web.prefix)]
        return bool(under) and max(under, key=lambda web: len(web.prefix)) is self

    def begin(
        self, request: Request, cookies: Mapping[str, str], secure: bool, set_cookie: bool
    ) -> RequestState:
        """The state of a request of this app: its browser session from the cookie, or a new
        one (whose cookie is set on the response when `set_cookie`: a Dash route)."""
        secure = secure or self.secure_cookie
        name = f"__Host-{self.cookie_name}" if secure else self.cookie_name
        session = self.signer.session_from_cookie(cookies.get(name, ""))
        state = RequestState(self, session or "", session is not None, request)
        if session is None:  # absent, expired, or not one of ours: a new one
            state.session, cookie = self.signer.new_session()
            if set_cookie:
                state.set_cookie = cookie_header(name, cookie, secure)
        return state

    def is_dash_rule(self, path: str, rule: str | None) -> bool:
        """On servers that match URL rules (Flask, Quart): is a request for `path`, matched by
        `rule`, one of the Dash app's own routes (not its bundles), or dash-stash's?"""
        if path.startswith(self.prefix + "_dash-stash/"):
            return True
        return (
            rule is not None
            and rule in self.app.routes
            and not any(part in rule for part in ("_dash-component-suites/", "_favicon.ico"))
        )

    def finish(self, response: Any) -> Any:
        """A werkzeug-style response (Flask's, Quart's) with the session cookie, if this
        app's request made a new one, and `Cache-Control: private`."""
        state = _STATE.get()
        if state is not None and state.web is self and state.set_cookie is not None:
            response.headers.add("Set-Cookie", state.set_cookie)
            response.cache_control.public = False
            response.cache_control.private = True
        return response

    def refuse_large(self, length: int | None, path: str) -> bool:
        """Is a body of `length` bytes over the default limit? (Logs why it is refused.)"""
        if length is None or length <= DEFAULT_MAX_REQUEST_BYTES:
            return False
        log.warning(
            "dash-stash: refused a %s-byte request to %s (the limit is %s bytes); %s",
            f"{length:,}",
            path,
            f"{DEFAULT_MAX_REQUEST_BYTES:,}",
            self.raise_limit,
        )
        return True


_WEBS: weakref.WeakKeyDictionary[Any, list[Web]] = weakref.WeakKeyDictionary()


def cookie_header(name: str, value: str, secure: bool) -> str:
    """The Set-Cookie header of the session cookie (one rule for every server)."""
    flags = f"Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"
    return f"{name}={value}; {flags}{'; Secure' if secure else ''}"


def answer(handler: Callable[[dict], bytes], body: Any, path: str) -> tuple[int, bytes]:
    """The status and body of a JSON route: a `StashError` is a 400 with its message (and a
    log warning), so the browser script can show it."""
    if not isinstance(body, dict):
        return 400, b'{"error":"expected a JSON object"}'
    try:
        return 200, handler(body)
    except StashError as exc:
        log.warning("dash-stash: %s: %s", path, exc)
        return 400, json.dumps({"error": str(exc)}).encode()


def parse_json(data: bytes | None, content_type: str | None) -> Any:
    """A JSON body as `Request.json` gives it: None unless application/json and valid (a
    body nested deeper than Python's recursion limit is not: a 400, not a 500)."""
    if not data or not (content_type or "").split(";")[0].strip().endswith("json"):
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


# -- the current request ---------------------------------------------------------------


STREAM_HEADERS = {"Cache-Control": "no-cache, private", "X-Accel-Buffering": "no"}  # nginx: at once

# A stream's steps (`Web.add_stream_route`): each chunk to send (str), and between them each
# wait for what comes next (a `live.Wait`: `block()` in a thread, or `await wait()` on a loop).
Steps = Iterator[Any]


def open_stream(
    handler: Callable[[dict, bool], Steps | None], can_hold: bool, path: str
) -> tuple[int, bytes, Steps | None]:
    """Run a stream route's `handler` on this request's JSON body: (status, error body, the
    steps to run under the request's state, or None for nothing to stream: a 204)."""
    chunks: list = []
    status, error = answer(
        lambda b: chunks.append(handler(b, can_hold)) or b"", request_json(), path
    )
    if status != 200 or chunks[0] is None:
        return status, error, None
    return status, error, in_state(current(), chunks[0])


def in_state(state: RequestState | None, steps: Steps) -> Steps:
    """`steps`, each made under the request's dash-stash state: servers send a streamed body
    after the request's own hooks have cleared it, and may make each step in another thread
    or context, so the state is entered around each step rather than once. Closing this
    closes `steps` (a stream's watch ends with it)."""
    try:
        while True:
            token = enter(state)
            try:
                step = next(steps, None)
            finally:
                leave(token)
            if step is None:
                return
            yield step
    finally:
        close = getattr(steps, "close", None)
        if close is not None:
            close()


def blocking_chunks(steps: Steps) -> Iterator[str]:
    """A stream's chunks for a WSGI server: each wait blocks this thread (one per open page
    on a threaded server; where a request may not be held, `can_hold` was False and the
    stream does not wait)."""
    try:
        for step in steps:
            if isinstance(step, str):
                yield step
            else:
                step.block()
    finally:
        steps.close()


async def awaiting_chunks(
    steps: Steps, run: Callable[[Callable[[], Any]], Awaitable[Any]], longest: float | None = None
) -> AsyncIterator[bytes]:
    """A stream's chunks for an ASGI server, holding no thread while it waits: each step's
    short sync work (checks, tokens: it may call an app's `group=`) runs through `run` (the
    server's thread pool), and each wait is awaited on the event loop. When the client goes
    away the server cancels the response (ASGI `http.disconnect`: Starlette and Quart both
    listen for it), which ends the wait here and closes the stream (its watch). `run` must
    wait for its thread even when cancelled, so no thread still runs a step when the
    stream is closed. `longest`: end the response after that many seconds of waiting (the
    page asks again at once, and catches up by version), for a server that will not stop
    while a response is open."""
    end = None if longest is None else time.monotonic() + longest
    try:
        while (step := await run(lambda: next(steps, None))) is not None:
            if isinstance(step, str):
                yield step.encode()
                continue
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return
            try:
                await asyncio.wait_for(step.wait(), left)
            except asyncio.TimeoutError:
                return
    finally:
        steps.close()


def current() -> RequestState | None:
    """This request's state; None outside a request of an app with dash-stash."""
    return _STATE.get()


def enter(state: RequestState | None) -> contextvars.Token:
    """Make `state` the current request's (servers call this before the app routes it)."""
    return _STATE.set(state)


def leave(token: contextvars.Token) -> None:
    """Forget the state `enter` set (a thread that serves the next request starts clean)."""
    _STATE.reset(token)


def _state() -> RequestState:
    state = _STATE.get()
    if state is None:
        raise StashError("dash-stash: this needs a request of an app with dash_stash.init")
    return state


def current_owner() -> Any | None:
    """The stash of the app serving this request: None outside a request or without one."""
    state = _STATE.get()
    return None if state is None else state.web.owner


def current_stash(what: str) -> Any:
    """The stash of the app serving this request; a `StashError` naming `what` outside a
    request of an app with dash-stash."""
    state = _STATE.get()
    if state is None:
        raise StashError(
            f"{what}: no app with dash-stash is serving this request; call "
            "dash_stash.init(app) after creating the app"
        )
    return state.web.owner


def session_id() -> str:
    """The browser session of this request (set before the request by its `Web`)."""
    return _state().session


def has_session() -> bool:
    """Did this request come with a valid session cookie the server made? A request
    without one (no cookie, a forged or foreign one) can never read back what it writes."""
    state = _STATE.get()
    return state is not None and state.valid_session


def session_key() -> str:
    """The keyed hash of this request's session id: what backend keys hold."""
    state = _state()
    return state.web.signer.session_key(state.session)


def request_json() -> Any:
    """The JSON body of this request; None unless it is sent as application/json."""
    return _state().request.json()


def request_args() -> dict[str, str]:
    """The query string and form fields of this request."""
    return _state().request.args()


def native_request() -> Any:
    """The framework's own request object (for an app's `inspector=` authorizer)."""
    return _state().request.native


def is_response(value: Any) -> bool:
    """Is `value` a response of this request's web framework (an authorizer's own answer)?"""
    state = _STATE.get()
    return state is not None and state.web.is_response(value)


def refuse(message: str) -> NoReturn:
    """Answer this request with a 400 carrying `message` (over a websocket: an error)."""
    state = _STATE.get()
    if state is None:
        raise StashError(message)
    raise state.web.bad_request(message)
