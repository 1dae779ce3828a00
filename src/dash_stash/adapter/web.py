"""The web framework side: per-request state and the session cookie. Flask only, for now.

Everything dash-stash needs from a request goes through `FlaskWeb`, so that Dash's FastAPI
and Quart servers (Dash 4.2+) can follow with one more class of the same shape. Every rule
about sessions lives here; routes (dash-stash's own included) ask through the functions at
the end of this module:

- `session_id()`: this request's session id (what tokens are bound to);
- `session_key()`: the keyed hash of it that backend keys hold (never the cookie value);
- `has_session()`: did the browser send a valid, server-made session cookie? Without one a
  request can never read back what it writes, so it must commit nothing.

The session cookie is set only on the Dash app's own routes (every route under its URL
prefix, `_dash-stash/` included), never on static files: HttpOnly, SameSite=Lax, `Secure` and
a `__Host-` name when the request is HTTPS (`request.is_secure`: behind a proxy, apply
werkzeug's `ProxyFix`) or `SESSION_COOKIE_SECURE` is set, and `Cache-Control: private`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import flask
from werkzeug.wsgi import LimitedStream

from ..errors import StashError
from ..tokens import Signer

log = logging.getLogger("dash_stash")

COOKIE = "dash_stash_session"
# Dash's requests carry tokens and component values; 16 MiB lets a page post its inputs
# (dcc.Upload contents are base64 in the body) while refusing a flood. Flask's
# MAX_CONTENT_LENGTH, when the app sets one, wins.
DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
_STATIC = ("_dash-component-suites/", "_favicon.ico")


@dataclass
class Reply:
    """A response, independent of the web framework."""

    status: int
    body: str | bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


# Given (method, path) of a request, a reply to send instead of routing it (a `Reply`, or the
# framework's own response), or None to let the app route it as if we were not there.
Intercept = Callable[[str, str], Any]


class FlaskWeb:
    """Hooks a Flask server: before each request, knows the stash and the browser session."""

    def __init__(self, cookie_name: str, signer: Signer, routes_prefix: str) -> None:
        self.cookie_name = cookie_name
        self.signer = signer
        self.prefix = routes_prefix

    def install(
        self,
        server: flask.Flask,
        owner: Any,
        routes: Callable[[], list],
        on_request: Callable[[], None],
        intercept: Intercept | None = None,
    ) -> None:
        """Run `on_request` before every request for this Dash app, with `owner` as this
        request's stash; let `intercept` answer a request before the app's routes see it.

        Several Dash apps may share one server (`Dash(server=..., url_base_pathname=...)`):
        each request is this app's when its path is under this app's URL prefix and under no
        longer prefix of another app on the server, whatever order the apps were made in.
        `routes()` gives the Dash app's URL rules (`app.routes`), asked at each request so
        that routes added later count too."""
        webs = server.extensions.setdefault("dash_stash", [])
        webs.append(self)

        def mine() -> bool:
            path = flask.request.path
            under = [web for web in webs if path.startswith(web.prefix)]
            return bool(under) and max(under, key=lambda web: len(web.prefix)) is self

        def is_dash_route() -> bool:
            path = flask.request.path
            if path.startswith(self.prefix + "_dash-stash/"):
                return True
            rule = flask.request.url_rule
            return (
                rule is not None
                and rule.rule in routes()
                and not any(part in rule.rule for part in _STATIC)
            )

        def before() -> Any:
            if not mine():
                return None  # another Dash app's request, or none of ours
            flask.g.dash_stash, flask.g.dash_stash_signer = owner, self.signer
            flask.g.dash_stash_web = self
            dash_route = is_dash_route()
            if dash_route:
                _limit_body(server)
            secure = bool(flask.request.is_secure or server.config.get("SESSION_COOKIE_SECURE"))
            name = f"__Host-{self.cookie_name}" if secure else self.cookie_name
            session = self.signer.session_from_cookie(flask.request.cookies.get(name, ""))
            flask.g.dash_stash_valid_session = session is not None
            if session is None:  # absent, expired, or not one of ours: a new one
                session, cookie = self.signer.new_session()
                if dash_route:
                    flask.g.dash_stash_set_cookie = name, cookie, secure
            flask.g.dash_stash_session = session
            on_request()
            if intercept is not None:
                reply = intercept(flask.request.method, flask.request.path)
                if isinstance(reply, Reply):
                    return flask.Response(
                        reply.body,
                        reply.status,
                        headers=reply.headers,
                        content_type=reply.content_type,
                    )
                return reply
            return None

        def after(response: flask.Response) -> flask.Response:
            new = flask.g.get("dash_stash_set_cookie")
            if new is not None and flask.g.get("dash_stash_web") is self:
                name, cookie, secure = new
                response.set_cookie(
                    name,
                    cookie,
                    max_age=400 * 86400,
                    path="/",
                    httponly=True,
                    samesite="Lax",
                    secure=secure,
                )
                response.cache_control.public = False
                response.cache_control.private = True
            return response

        server.before_request(before)
        server.after_request(after)


def _limit_body(server: flask.Flask) -> None:
    """Refuse (413) a Dash request body over the default limit, if the app sets none; read a
    body without a length (chunked) no further than the limit."""
    if server.config.get("MAX_CONTENT_LENGTH") is not None:
        return  # Flask enforces the app's own limit
    length = flask.request.content_length
    if length is not None and length > DEFAULT_MAX_REQUEST_BYTES:
        log.warning(
            "dash-stash: refused a %s-byte request to %s (the limit is %s bytes); set "
            "app.server.config['MAX_CONTENT_LENGTH'] to allow more",
            f"{length:,}",
            flask.request.path,
            f"{DEFAULT_MAX_REQUEST_BYTES:,}",
        )
        flask.abort(413)
    environ = flask.request.environ
    if length is None and "wsgi.input_terminated" in environ:
        # A body without a length (chunked), which the server lets the app read to its end:
        # stop reading at the limit (Flask < 3.1 has no per-request limit to set). Without
        # `wsgi.input_terminated`, werkzeug reads such a body as empty anyway.
        environ["wsgi.input"] = LimitedStream(
            environ["wsgi.input"], DEFAULT_MAX_REQUEST_BYTES, is_max=True
        )


def add_json_route(
    server: flask.Flask, path: str, handler: Callable[[dict], bytes], log: Any
) -> None:
    """A POST route taking a JSON object; `handler` returns JSON bytes. A `StashError` is
    a 400 with its message (and a log warning), so the browser script can show it."""

    def view() -> flask.Response:
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            return flask.Response(b'{"error":"expected a JSON object"}', 400, mimetype=_JSON)
        try:
            return flask.Response(handler(body), 200, mimetype=_JSON)
        except StashError as exc:
            log.warning("dash-stash: %s: %s", path, exc)
            return flask.Response(flask.json.dumps({"error": str(exc)}), 400, mimetype=_JSON)

    server.add_url_rule(path, endpoint=f"dash_stash{path}", view_func=view, methods=["POST"])


_JSON = "application/json"


def add_stream_route(
    server: flask.Flask,
    path: str,
    handler: Callable[[dict, bool], Iterator[str] | None],
    log: Any,
) -> None:
    """A POST route taking a JSON object and answering a stream of Server-Sent Events:
    `handler(body, can_hold)` gives the chunks (None: nothing to stream, 204). `can_hold`
    says whether a held response leaves the server able to serve others (a threaded or
    green-thread server); on a plain one-request-at-a-time worker it does not. The stream
    runs in the request's context (its session), and ends if the browser goes away (the
    next chunk fails to send)."""

    def view() -> flask.Response:
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            return flask.Response(b'{"error":"expected a JSON object"}', 400, mimetype=_JSON)
        try:
            chunks = handler(body, can_hold())
        except StashError as exc:
            log.warning("dash-stash: %s: %s", path, exc)
            return flask.Response(flask.json.dumps({"error": str(exc)}), 400, mimetype=_JSON)
        if chunks is None:
            return flask.Response(status=204)
        response = flask.Response(
            flask.stream_with_context(chunks), 200, mimetype="text/event-stream"
        )
        response.headers["Cache-Control"] = "no-cache, private"
        response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events on at once
        return response

    server.add_url_rule(path, endpoint=f"dash_stash{path}", view_func=view, methods=["POST"])


def can_hold() -> bool:
    """Can this server hold a response open without refusing other requests meanwhile?
    gunicorn's gthread, gevent and eventlet workers and werkzeug's threaded server say so
    (`wsgi.multithread`); a sync worker (one request at a time) does not."""
    return bool(flask.request.environ.get("wsgi.multithread"))


def current_owner() -> Any | None:
    """The stash of the app serving this request: None outside a request or without one."""
    if not flask.has_request_context():
        return None
    return flask.g.get("dash_stash")


def current_stash(what: str) -> Any | None:
    """The stash of the app serving this request; None outside a request; a `StashError`
    naming `what` when the app serving it has no dash-stash."""
    if not in_request():
        return None
    stash = current_owner()
    if stash is None:
        raise StashError(
            f"{what}: this app has no dash-stash; call dash_stash.init(app) after creating it"
        )
    return stash


def in_request() -> bool:
    return flask.has_request_context()


def session_id() -> str:
    """The browser session of this request (set before the request by `FlaskWeb`)."""
    return flask.g.dash_stash_session


def has_session() -> bool:
    """Did this request come with a valid session cookie the server made? A request
    without one (no cookie, a forged or foreign one) can never read back what it writes."""
    return bool(flask.g.get("dash_stash_valid_session"))


def session_key() -> str:
    """The keyed hash of this request's session id: what backend keys hold."""
    return flask.g.dash_stash_signer.session_key(session_id())


def request_json() -> Any:
    """The JSON body of this request; None unless it is sent as application/json."""
    return flask.request.get_json(silent=True) if flask.request.is_json else None


def request_args() -> dict[str, str]:
    """The query string and form fields of this request."""
    return {**flask.request.args.to_dict(), **flask.request.form.to_dict()}


def native_request() -> Any:
    """The framework's own request object (for an app's `inspector=` authorizer)."""
    return flask.request


def is_response(value: Any) -> bool:
    """Is `value` a response of the web framework (an authorizer's own answer)?"""
    return isinstance(value, flask.Response)
