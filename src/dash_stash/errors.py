"""Every error a dash-stash user can see. Messages say what happened, where, and what to do."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def format_path(root: str, path: Iterable[Any]) -> str:
    """``user_data["when"][3]``: a place inside a value as Python would index it, the way
    every message and listing of dash-stash names one."""
    return root + "".join(
        f"[{json.dumps(k, ensure_ascii=False)}]" if isinstance(k, str) else f"[{k!r}]" for k in path
    )


class StashError(Exception):
    """Base class of every dash-stash error."""


class StashValueError(StashError):
    """An error about a place inside a store's value: `store`, and `path` such as
    ``user_data["when"]``, so that code can tell where without parsing the message."""

    def __init__(self, message: str, *, store: str = "", path: str = "") -> None:
        super().__init__(message)
        self.store = store
        self.path = path


class EncodeError(StashValueError, TypeError):
    """A value (or a part of it) cannot be stored."""


class ValueTooLargeError(StashError, ValueError):
    """An encoded value is larger than the configured limit."""


class QuotaError(StashError, ValueError):
    """A write would take one browser session over its quota (`init(max_session_bytes=...,
    max_session_instances=...)`); nothing was committed."""


class CorruptRecordError(StashError):
    """A stored record cannot be decoded; it is left as it is."""


class ConflictError(StashValueError):
    """Two writers changed the same leaf two different ways (policy ``"raise"``)."""


class PatchError(StashError, ValueError):
    """A ``dash.Patch`` operation does not apply to the stored value."""


class BackendError(StashError):
    """The backend cannot be opened or reached. The stored value is unchanged, except where
    the message says a commit is unconfirmed (its reply was lost: applied whole or not at all).
    """


class TokenError(StashError):
    """A token is forged, edited, expired or bound to another browser."""
