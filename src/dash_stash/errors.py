"""Every error a dash-stash user can see. Messages say what happened, where, and what to do."""

from __future__ import annotations


class StashError(Exception):
    """Base class of every dash-stash error."""


class EncodeError(StashError, TypeError):
    """A value (or a part of it) cannot be stored.

    `path` is the place inside the value, e.g. ``user_data["when"]``.
    """

    def __init__(self, message: str, *, store: str = "", path: str = "") -> None:
        super().__init__(message)
        self.store = store
        self.path = path


class ValueTooLargeError(StashError, ValueError):
    """An encoded value is larger than the configured limit."""


class CorruptRecordError(StashError):
    """A stored record cannot be decoded; it is left as it is."""


class ConflictError(StashError):
    """Two writers changed the same leaf two different ways (policy ``"raise"``)."""

    def __init__(self, message: str, *, store: str = "", path: str = "") -> None:
        super().__init__(message)
        self.store = store
        self.path = path


class PatchError(StashError, ValueError):
    """A ``dash.Patch`` operation does not apply to the stored value."""


class BackendError(StashError):
    """The backend cannot be opened or reached. The stored value is unchanged."""


class TokenError(StashError):
    """A token is forged, edited, expired or bound to another browser."""
