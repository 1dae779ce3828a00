"""Backends: one file each, all behind the `Backend` protocol of `base.py`."""

from __future__ import annotations

import os

from ..errors import BackendError
from .base import Backend, Record, Retention, StoreKey, Usage

__all__ = [
    "Backend",
    "Record",
    "Retention",
    "StoreKey",
    "Usage",
    "default_backend_url",
    "open_backend",
]

DEFAULT_DIR = ".dash_stash"


def default_backend_url() -> str:
    """`DASH_STASH_BACKEND`, else a SQLite file under ./.dash_stash/."""
    return os.environ.get("DASH_STASH_BACKEND") or f"sqlite:///{DEFAULT_DIR}/stash.db"


def open_backend(url: str, retention: Retention | None = None) -> Backend:
    """Open the backend a URL names: `memory://`, `sqlite:///path.db`, `redis://host:port/db`."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from .memory import MemoryBackend

        return MemoryBackend(retention)
    if scheme == "sqlite":
        from .sqlite import SQLiteBackend

        return SQLiteBackend(url, retention)
    if scheme in ("redis", "rediss", "redis+cluster"):
        try:
            from .redis import RedisBackend
        except ImportError as exc:
            raise BackendError(
                f"the backend {url!r} needs redis-py: pip install 'dash-stash[redis]'"
            ) from exc
        return RedisBackend(url, retention)
    raise BackendError(
        f"unknown backend URL {url!r}; use memory://, sqlite:///path.db or redis://host:port/0"
    )
