"""The Dash server a test app runs on: DASH_SERVER ("flask", "fastapi", "quart")."""

from __future__ import annotations

import os
from typing import Any

from dash import Dash


def server_kind() -> str:
    """The server the environment asks for (Flask unless DASH_SERVER says otherwise)."""
    return os.environ.get("DASH_SERVER", "flask")


def make_dash(name: str, server: str | None = None, **options: Any) -> Dash:
    """`Dash(name, **options)` on `server` (default: `server_kind()`); FastAPI and Quart
    are Dash 4.2+'s `backend=`, which older Dash does not take, so Flask never passes it."""
    server = server or server_kind()
    if server == "flask":
        return Dash(name, **options)
    return Dash(name, backend=server, **options)
