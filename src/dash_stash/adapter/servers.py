"""Which `web.Web` serves an app: one per Dash server dash-stash supports.

Dash 4.2+ names its server (`app.backend.server_type`: "flask", "fastapi", "quart"); Dash 3.x
runs on Flask only. Each server's module is imported only when an app runs on it, so a Flask
app never imports FastAPI or Quart.
"""

from __future__ import annotations

from typing import Any

from ..errors import StashError
from .web import Web

SERVERS = ("flask", "fastapi", "quart")


def server_name(app: Any) -> str:
    """The name of the server `app` runs on, as Dash 4.2+ names it."""
    backend = getattr(app, "backend", None)  # Dash 4.2+: Dash's own server abstraction
    if backend is not None:
        return str(getattr(backend, "server_type", type(backend).__name__))
    import flask

    return "flask" if isinstance(app.server, flask.Flask) else type(app.server).__name__


def for_app(app: Any) -> type[Web]:
    """The `Web` class for the server `app` runs on; a clear error for one we cannot serve."""
    name = server_name(app)
    if name == "flask":
        from .web_flask import FlaskWeb

        return FlaskWeb
    if name == "fastapi":
        from .web_fastapi import FastAPIWeb

        return FastAPIWeb
    if name == "quart":
        from .web_quart import QuartWeb

        return QuartWeb
    raise StashError(
        f"dash_stash.init(app): this app runs on a {name!r} server, which dash-stash cannot "
        f"serve; it supports {', '.join(SERVERS)} (FastAPI and Quart on Dash 4.2+). Run the "
        "app on one of them, or please report the server you need."
    )
