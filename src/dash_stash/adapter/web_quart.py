"""The request side on Quart (Dash 4.2+, under hypercorn): Quart's own hooks.

Quart's hooks are Flask's, async: `before_request` may answer a request, `after_request`
sees the response, `before_websocket` sees a websocket handshake. The hooks are coroutines
so that the `RequestState` they set is in the request's own context (Quart runs a sync hook
in a thread, on a copy of it); Quart and Dash give sync views and callbacks that they run in
threads a copy of that context, so they see it. Quart enforces its `MAX_CONTENT_LENGTH`
(16 MiB unless the app sets another) on every body, chunked ones included.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

import quart
from quart.utils import run_sync
from werkzeug.exceptions import BadRequest

from . import web


class QuartWeb(web.Web):
    """Hooks a Quart server: before each of this app's requests, sets its `RequestState`."""

    raise_limit = "set app.server.config['MAX_CONTENT_LENGTH'] to allow more"

    def install(self, setup: Callable[[], None]) -> None:
        server: quart.Quart = self.server
        # plotly/dash#3971: Quart runs Dash's sync setup hook in a thread, so two first
        # requests can race as on a threaded Flask: run it under a lock, before any other
        server.before_request_funcs.setdefault(None, []).insert(0, setup)

        async def before() -> Any:
            request = quart.request
            if not self.mine(request.path):
                return None
            rule = request.url_rule
            dash_route = self.is_dash_rule(request.path, rule and rule.rule)
            limit = server.config.get("MAX_CONTENT_LENGTH")
            if (
                dash_route
                and limit is None
                and self.refuse_large(request.content_length, request.path)
            ):
                quart.abort(413)
            # our routes and the inspector read their JSON body synchronously: read it now
            ours = request.path.startswith(self.prefix + "_dash-stash/")
            body = await request.get_data() if ours and request.method == "POST" else b""
            content_type = request.content_type
            view = web.Request(
                request.method,
                request.path,
                # the request itself, not Quart's proxy of the current one: a held stream's
                # steps (which ask an app's `group=`) run after the request context ends
                request._get_current_object(),  # type: ignore[attr-defined]
                lambda: request.args.to_dict(),
                lambda: web.parse_json(body, content_type),
            )
            secure = request.is_secure or bool(server.config.get("SESSION_COOKIE_SECURE"))
            web.enter(self.begin(view, request.cookies, secure, dash_route))
            await run_sync(self.on_request)()
            reply = await run_sync(self.intercept)(request.method, request.path)
            if isinstance(reply, web.Reply):
                return quart.Response(
                    reply.body, reply.status, headers=reply.headers, content_type=reply.content_type
                )
            return reply

        async def after(response: quart.Response) -> quart.Response:
            return self.finish(response)

        async def before_websocket() -> None:
            socket = quart.websocket
            if not self.mine(socket.path):
                return
            args = socket.args.to_dict
            view = web.Request("GET", socket.path, socket._get_current_object(), args, lambda: None)
            secure = socket.is_secure or bool(server.config.get("SESSION_COOKIE_SECURE"))
            web.enter(self.begin(view, socket.cookies, secure, set_cookie=False))
            await run_sync(self.on_request)()

        server.before_request(before)
        server.after_request(after)
        server.before_websocket(before_websocket)
        server.asgi_app = _websocket_scheme(server.asgi_app)  # type: ignore[method-assign]

    def add_json_route(self, path: str, handler: Callable[[dict], bytes]) -> None:
        async def view() -> quart.Response:
            status, body = await run_sync(web.answer)(handler, web.request_json(), path)
            return quart.Response(body, status, content_type=web.JSON)

        self.app.backend.add_url_rule(path, view, endpoint=f"dash_stash{path}", methods=["POST"])

    def add_stream_route(
        self, path: str, handler: Callable[[dict, bool], web.Steps | None]
    ) -> bool:
        async def view() -> quart.Response:
            # Held, and free: the stream awaits changes on the event loop; only its short
            # steps (checks, tokens) take a pool thread, each for a moment.
            status, error, steps = await run_sync(web.open_stream)(handler, True, path)
            if status != 200:
                return quart.Response(error, status, content_type=web.JSON)
            if steps is None:
                return quart.Response("", 204)
            response = quart.Response(
                web.awaiting_chunks(steps, _in_thread, self.longest_hold),
                200,
                content_type="text/event-stream",
            )
            response.headers.update(web.STREAM_HEADERS)
            response.timeout = None  # Quart's RESPONSE_TIMEOUT would cut a held stream
            return response

        self.app.backend.add_url_rule(path, view, endpoint=f"dash_stash{path}", methods=["POST"])
        return True

    def bad_request(self, message: str) -> Exception:
        return BadRequest(message)

    def is_response(self, value: Any) -> bool:
        return isinstance(value, quart.Response)


async def _in_thread(func: Callable[[], Any]) -> Any:
    """`func()` in the loop's default executor (Quart's pool), in a copy of this context;
    waited for to its end even if the caller is cancelled (a stream is closed only once no
    thread runs its step: `web.awaiting_chunks`)."""
    future = asyncio.get_running_loop().run_in_executor(None, contextvars.copy_context().run, func)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait({future})
        raise


def _websocket_scheme(asgi_app: Callable[..., Any]) -> Callable[..., Any]:
    """`asgi_app` with a websocket handshake's scheme made a websocket one ("https" ->
    "wss"). Hypercorn's `ProxyFixMiddleware` (how docs/security.md serves Quart behind a TLS
    proxy) copies `X-Forwarded-Proto: https` into a websocket's scope as it is; Quart then
    routes the handshake as a page request, and every websocket callback fails."""
    schemes = {"http": "ws", "https": "wss"}

    async def app(scope: dict, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "websocket" and scope.get("scheme") in schemes:
            scope = {**scope, "scheme": schemes[scope["scheme"]]}
        await asgi_app(scope, receive, send)

    return app
