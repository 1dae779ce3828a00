"""The web framework side: per-request state and the session cookie. Flask only, for now.

Everything dash-stash needs from a request goes through `FlaskWeb`, so that Dash's FastAPI
and Quart servers (Dash 4.2+) can follow with one more class of the same shape.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import flask

COOKIE = "dash_stash_session"


def _valid(session: str) -> bool:
    return len(session) == 32 and session.isalnum()


class FlaskWeb:
    """Hooks a Flask server: before each request, knows the stash and the browser session."""

    def __init__(self, cookie_name: str = COOKIE) -> None:
        self.cookie_name = cookie_name

    def install(self, server: flask.Flask, owner: Any, on_request: Callable[[], None]) -> None:
        """Run `on_request` before every request, with `owner` as this request's stash."""

        def before() -> None:
            flask.g.dash_stash = owner
            session = flask.request.cookies.get(self.cookie_name, "")
            if not _valid(session):
                session = secrets.token_hex(16)
                flask.g.dash_stash_new_session = True
            flask.g.dash_stash_session = session
            on_request()

        def after(response: flask.Response) -> flask.Response:
            if flask.g.get("dash_stash_new_session"):
                response.set_cookie(
                    self.cookie_name,
                    flask.g.dash_stash_session,
                    max_age=400 * 86400,
                    httponly=True,
                    samesite="Lax",
                    secure=flask.request.is_secure,
                )
            return response

        server.before_request(before)
        server.after_request(after)


def add_json_route(
    server: flask.Flask, path: str, handler: Callable[[dict], bytes], log: Any
) -> None:
    """A POST route taking a JSON object; `handler` returns JSON bytes. A `StashError` is
    a 400 with its message (and a log warning), so the browser script can show it."""
    from .errors import StashError

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


def current_owner() -> Any | None:
    """The stash of the app serving this request: None outside a request or without one."""
    if not flask.has_request_context():
        return None
    return flask.g.get("dash_stash")


def in_request() -> bool:
    return flask.has_request_context()


def session_id() -> str:
    """The browser session of this request (set before the request by `FlaskWeb`)."""
    return flask.g.dash_stash_session
