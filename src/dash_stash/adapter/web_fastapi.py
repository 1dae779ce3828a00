"""The request side on FastAPI (Dash 4.2+, under uvicorn): one ASGI middleware.

Dash's FastAPI backend runs its before-request hooks in its own middleware, but they cannot
answer a request (the inspector), set a cookie on its response, or see a websocket
handshake, and its after-request hook is a single slot that sees no response. So dash-stash
wraps the app in a middleware of its own, outside Dash's, that for each of this app's
requests (the paths Dash's middleware hooks: the index and `<prefix>_dash-*`, the
websocket included):

- reads the body of an HTTP request, at most `DEFAULT_MAX_REQUEST_BYTES` (else a 413), and
  hands it on unchanged;
- sets the `RequestState` from the session cookie (a websocket: its handshake's), runs
  Dash's once-only setup and `on_request`, and lets `intercept` answer (in a thread: they
  read and write the backend);
- adds the session cookie (if new) to the response.

Sync routes and callbacks that FastAPI or Dash run in a thread pool get a copy of the
request's context, so they see its state.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import web


class FastAPIWeb(web.Web):
    """Hooks a FastAPI server through `_Middleware`."""

    raise_limit = "dash-stash reads no more of a Dash request on FastAPI"
    # uvicorn does not stop (Ctrl+C, SIGTERM, every `--reload` of Dash's `run(debug=True)`)
    # while a response is open, with no time limit by default, and tells the app nothing:
    # so a held live stream ends after 5 s of waiting, and the page asks again at once.
    longest_hold = 5.0

    def install(self, setup: Callable[[], None]) -> None:
        self.setup = setup
        self.server.add_middleware(_Middleware, owner=self)

    def prepare(self, request: web.Request, dash_route: bool, http: bool) -> Any:
        """Before a request is routed: Dash's once-only setup (before `on_request` needs
        its callbacks; Dash's own hook runs later, in its inner middleware), `on_request`,
        and the inspector's answer, if any."""
        if dash_route:
            self.setup()
            self.on_request()
        return self.intercept(request.method, request.path) if http else None

    def is_dash_path(self, path: str) -> bool:
        """The paths Dash's own middleware hooks (its index and `_dash-` routes), without
        the component bundles (static files)."""
        sub = path[len(self.prefix) :]
        if sub.startswith("_dash-component-suites/"):
            return False
        return sub.startswith("_dash-") or sub == "" or path == self.prefix.rstrip("/")

    def add_json_route(self, path: str, handler: Callable[[dict], bytes]) -> None:
        async def view(request: Request) -> Response:
            # the middleware has read the body already (Dash's read it too): from the state
            status, body = await run_in_threadpool(web.answer, handler, web.request_json(), path)
            return Response(body, status_code=status, media_type=web.JSON)

        self.app.backend.add_url_rule(path, view, endpoint=f"dash_stash{path}", methods=["POST"])

    def add_stream_route(
        self, path: str, handler: Callable[[dict, bool], web.Steps | None]
    ) -> bool:
        async def view(request: Request) -> Response:
            # Held, and free: the stream awaits changes on the event loop; only its short
            # steps (checks, tokens) take a pool thread, each for a moment.
            status, error, steps = await run_in_threadpool(web.open_stream, handler, True, path)
            if status != 200:
                return Response(error, status_code=status, media_type=web.JSON)
            if steps is None:
                return Response(status_code=204)
            # anyio's thread runs are waited for even when the response is cancelled
            chunks = web.awaiting_chunks(steps, run_in_threadpool, self.longest_hold)
            return StreamingResponse(
                chunks, media_type="text/event-stream", headers=web.STREAM_HEADERS
            )

        self.app.backend.add_url_rule(path, view, endpoint=f"dash_stash{path}", methods=["POST"])
        return True

    @classmethod
    def folder(cls, app: Any) -> str:
        """The folder of the app's module (a FastAPI server has no `root_path` folder)."""
        module = sys.modules.get(app.config.name)
        file = getattr(module, "__file__", None)
        return os.path.dirname(os.path.abspath(file)) if file else os.getcwd()

    def bad_request(self, message: str) -> Exception:
        return HTTPException(400, detail=message)

    def is_response(self, value: Any) -> bool:
        return isinstance(value, Response)


class _Middleware:
    """dash-stash's ASGI middleware for one Dash app on a FastAPI server."""

    def __init__(self, app: ASGIApp, owner: FastAPIWeb) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind, path = scope["type"], scope.get("path", "")
        owner = self.owner
        if kind not in ("http", "websocket") or not owner.mine(path):
            await self.app(scope, receive, send)
            return
        dash_route = owner.is_dash_path(path)
        connection = HTTPConnection(scope)
        body = b""
        if kind == "http" and dash_route:
            read = await _read_body(receive, owner, connection, path)
            if read is None:
                await Response("Request Entity Too Large", 413)(scope, receive, send)
                return
            body, receive = read, _replay(read, receive)
        content_type = connection.headers.get("content-type")
        request = web.Request(
            scope.get("method", "GET"),
            path,
            Request(scope, receive) if kind == "http" else connection,
            lambda: dict(connection.query_params),
            lambda: web.parse_json(body, content_type),
        )
        secure = scope.get("scheme") in ("https", "wss")
        state = owner.begin(request, connection.cookies, secure, dash_route and kind == "http")
        token = web.enter(state)
        try:
            # our sync work (Dash's setup, the callback wiring, the inspector) in a thread
            reply = await run_in_threadpool(owner.prepare, request, dash_route, kind == "http")
            send = _with_cookie(send, state.set_cookie)
            if isinstance(reply, web.Reply):
                reply = Response(
                    reply.body, reply.status, headers=reply.headers, media_type=reply.content_type
                )
            if reply is not None:
                await reply(scope, receive, send)
                return
            await self.app(scope, receive, send)
        finally:
            web.leave(token)


async def _read_body(
    receive: Receive, owner: web.Web, connection: HTTPConnection, path: str
) -> bytes | None:
    """The whole body of a request, or None (refused) when it is over the limit; a body
    without a length (chunked) is read no further than the limit."""
    length = connection.headers.get("content-length")
    if owner.refuse_large(int(length) if length and length.isdigit() else None, path):
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away
        chunk = message.get("body", b"")
        size += len(chunk)
        if owner.refuse_large(size, path):
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the body read already, then the client's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _with_cookie(send: Send, set_cookie: str | None) -> Send:
    """A `send` that adds the session cookie, and `Cache-Control: private`, to a response."""
    if set_cookie is None:
        return send

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            given = message.get("headers", [])
            headers = [(k, v) for k, v in given if k.lower() != b"cache-control"]
            cache = b", ".join(v for k, v in given if k.lower() == b"cache-control")
            directives = [d.strip() for d in cache.split(b",") if d.strip()]
            directives = [d for d in directives if d.lower() not in (b"public", b"private")]
            headers.append((b"cache-control", b", ".join([*directives, b"private"])))
            headers.append((b"set-cookie", set_cookie.encode("latin-1")))
            message = {**message, "headers": headers}
        await send(message)

    return sender
