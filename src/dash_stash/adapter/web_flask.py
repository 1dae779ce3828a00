"""The request side on Flask (every Dash version): Flask's own before/after-request hooks.

Dash 4.2+'s `app.backend.before_request` / `after_request` are these same Flask hooks, so one
class serves Dash 3.x and 4.x alike.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

import flask
from werkzeug.exceptions import BadRequest
from werkzeug.wsgi import LimitedStream

from . import web


class FlaskWeb(web.Web):
    """Hooks a Flask server: before each of this app's requests, sets its `RequestState`."""

    raise_limit = "set app.server.config['MAX_CONTENT_LENGTH'] to allow more"

    def install(self, setup: Callable[[], None]) -> None:
        server: flask.Flask = self.server
        # plotly/dash#3971: Dash's own setup hook, run under a lock before any other
        server.before_request_funcs.setdefault(None, []).insert(0, setup)

        def before() -> Any:
            if not self.mine(flask.request.path):
                return None  # another Dash app's request, or none of ours
            rule = flask.request.url_rule
            dash_route = self.is_dash_rule(flask.request.path, rule and rule.rule)
            if dash_route:
                _limit_body(self, server)
            secure = bool(flask.request.is_secure or server.config.get("SESSION_COOKIE_SECURE"))
            request = web.Request(
                flask.request.method,
                flask.request.path,
                flask.request,
                lambda: {**flask.request.args.to_dict(), **flask.request.form.to_dict()},
                _json,
            )
            state = self.begin(request, flask.request.cookies, secure, dash_route)
            web.enter(state)
            flask.g.dash_stash_entered = True
            self.on_request()
            reply = self.intercept(flask.request.method, flask.request.path)
            if isinstance(reply, web.Reply):
                return flask.Response(
                    reply.body, reply.status, headers=reply.headers, content_type=reply.content_type
                )
            return reply

        def teardown(_exc: BaseException | None) -> None:
            if flask.g.pop("dash_stash_entered", False):
                web.enter(None)  # a thread that serves another request next starts clean

        server.before_request(before)
        server.after_request(self.finish)
        server.teardown_request(teardown)

    def add_json_route(self, path: str, handler: Callable[[dict], bytes]) -> None:
        def view() -> flask.Response:
            status, body = web.answer(handler, _json(), path)
            return flask.Response(body, status, mimetype=web.JSON)

        self.server.add_url_rule(
            path, endpoint=f"dash_stash{path}", view_func=view, methods=["POST"]
        )

    def add_stream_route(
        self, path: str, handler: Callable[[dict, bool], web.Steps | None]
    ) -> bool:
        def view() -> flask.Response:
            # gunicorn's gthread, gevent and eventlet workers and werkzeug's threaded server
            # serve others while one response is held (how many: `stream_slots`); a sync
            # worker does not
            can_hold = bool(flask.request.environ.get("wsgi.multithread"))
            status, error, chunks = web.open_stream(handler, can_hold, path)
            if status != 200:
                return flask.Response(error, status, mimetype=web.JSON)
            if chunks is None:
                return flask.Response(status=204)
            response = flask.Response(
                flask.stream_with_context(web.blocking_chunks(chunks)),
                200,
                mimetype="text/event-stream",
            )
            response.headers.update(web.STREAM_HEADERS)
            return response

        self.server.add_url_rule(
            path, endpoint=f"dash_stash{path}", view_func=view, methods=["POST"]
        )
        return True

    def stream_slots(self) -> int | None:
        return stream_slots(flask.request.environ)

    def bad_request(self, message: str) -> Exception:
        return BadRequest(message)

    def is_response(self, value: Any) -> bool:
        return isinstance(value, flask.Response)


def _limit_body(owner: web.Web, server: flask.Flask) -> None:
    """Refuse (413) a Dash request body over the default limit, if the app sets none; read a
    body without a length (chunked) no further than the limit."""
    if server.config.get("MAX_CONTENT_LENGTH") is not None:
        return  # Flask enforces the app's own limit
    length = flask.request.content_length
    if owner.refuse_large(length, flask.request.path):
        flask.abort(413)
    environ = flask.request.environ
    if length is None and "wsgi.input_terminated" in environ:
        # A body without a length (chunked), which the server lets the app read to its end:
        # stop reading at the limit (Flask < 3.1 has no per-request limit to set). Without
        # `wsgi.input_terminated`, werkzeug reads such a body as empty anyway.
        environ["wsgi.input"] = LimitedStream(
            environ["wsgi.input"], web.DEFAULT_MAX_REQUEST_BYTES, is_max=True
        )


def _json() -> Any:
    """This request's JSON body (`web.parse_json`: None unless JSON, also when too deep)."""
    return web.parse_json(flask.request.get_data(), flask.request.content_type)


UNKNOWN_POOL_SLOTS = 2  # held streams on a threaded server whose pool size we cannot learn


def stream_slots(environ: dict) -> int | None:
    """How many streams this WSGI process may hold at once, from what it says of itself.

    - one request at a time (`wsgi.multithread` false: gunicorn's sync worker, werkzeug's
      forking server): 0, a held stream would take the whole worker;
    - gevent or eventlet (the threading module is patched: a held stream is a greenlet
      in a wait), or werkzeug's threaded server (a new thread per request, no pool): None,
      no limit;
    - gunicorn's gthread worker: half its `--threads` (the worker's config, found through
      the SIGTERM handler gunicorn sets on it), so callbacks keep the other half;
    - any other threaded server (waitress, mod_wsgi...): its pool size is not in the
      environ, so `UNKNOWN_POOL_SLOTS` (set `init(live_streams=N)` to say better).
    """
    if not environ.get("wsgi.multithread"):
        return 0
    if _green() or str(environ.get("SERVER_SOFTWARE", "")).startswith("Werkzeug/"):
        return None
    worker = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    if type(worker).__module__.startswith("gunicorn.workers."):
        if type(worker).__name__ != "ThreadWorker":
            return None  # gunicorn's gevent/eventlet/tornado workers: no thread per request
        return int(worker.cfg.threads) // 2
    return UNKNOWN_POOL_SLOTS


def _green() -> bool:
    """Has gevent or eventlet patched the threading module (a thread is a greenlet)?"""
    gevent = sys.modules.get("gevent.monkey")
    if gevent is not None and gevent.is_module_patched("threading"):
        return True
    eventlet = sys.modules.get("eventlet.patcher")
    return bool(eventlet is not None and eventlet.is_monkey_patched("thread"))
