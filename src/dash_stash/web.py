"""The web framework side: per-request state and the session cookie. Flask only, for now.

Everything dash-stash needs from a request goes through `FlaskWeb`, so that Dash's FastAPI
and Quart servers (Dash 4.2+) can follow with one more class of the same shape.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flask

COOKIE = "dash_stash_session"


def _valid(session: str) -> bool:
    return len(session) == 32 and session.isalnum()


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

    def __init__(self, cookie_name: str = COOKIE) -> None:
        self.cookie_name = cookie_name

    def install(
        self,
        server: flask.Flask,
        owner: Any,
        on_request: Callable[[], None],
        intercept: Intercept | None = None,
    ) -> None:
        """Run `on_request` before every request, with `owner` as this request's stash; let
        `intercept` answer a request before the app's routes see it."""

        def before() -> Any:
            flask.g.dash_stash = owner
            session = flask.request.cookies.get(self.cookie_name, "")
            if not _valid(session):
                session = secrets.token_hex(16)
                flask.g.dash_stash_new_session = True
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


def current_owner() -> Any | None:
    """The stash of the app serving this request: None outside a request or without one."""
    if not flask.has_request_context():
        return None
    return flask.g.get("dash_stash")


def in_request() -> bool:
    return flask.has_request_context()


def current_request() -> object | None:
    """This request (its identity tells one request from the next on a thread)."""
    return flask.request._get_current_object() if flask.has_request_context() else None


def session_id() -> str:
    """The browser session of this request (set before the request by `FlaskWeb`)."""
    return flask.g.dash_stash_session


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
