"""Value types every layer shares: where a value lives and what the server knows of a store.

They sit at the bottom of the package (they import nothing of it), so the core and the Dash
adapter both name them without a deferred import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Scope = Literal["memory", "session", "local", "app"]
"""A store's `storage_type`: whose value it is on the server (see `scopes.py`)."""

Policy = Literal["last-writer-wins", "raise"]
"""A conflict policy by name; a function `(base, ours, theirs) -> merged` is the other kind."""

ConflictPolicy = Policy | Callable[[Any, Any, Any], Any]

GroupOf = Callable[[Any], "str | None"]
"""Given the web framework's request, the group whose `app` value it shares (None: none)."""


@dataclass(frozen=True, order=True)
class StoreKey:
    """Where a value lives: app namespace, browser session, scope instance, store id."""

    namespace: str
    session: str
    scope: str
    store_id: str

    def __str__(self) -> str:  # for errors and logs: the session shortened (redacted)
        session = f"{self.session[:6]}..." if len(self.session) > 8 else self.session
        return f"{self.namespace}/{session}/{self.scope}/{self.store_id}"


@dataclass
class StoreSpec:
    """What the server knows of a store id: its scope, lifetime and conflict policy."""

    scope: str
    ttl: float
    on_conflict: ConflictPolicy
    typed: bool | None = None  # None: the app's default (`init(typed=...)`)
    raw_id: Any = field(default=None, repr=False)
    group: GroupOf | None = field(default=None, repr=False)  # `app` scope only: `Store(group=)`
