"""What `storage_type` means on the server: whose value it is and how long it lives idle.

The browser keeps the token where `dcc.Store` keeps data (memory, sessionStorage,
localStorage), so a scope's lifetime in the browser is exactly `dcc.Store`'s. On the server a
`memory` or `session` value belongs to the instance minted with the layout (one page load; one
tab, since sessionStorage keeps the token across reloads), a `local` value to the browser's
session cookie.

An `app` value is shared: one per namespace for every session, or, with `group=`, one per
group (what `group(request)` says the request belongs to, asked at every request). Its backend
key names no session (`SHARED`) and its instance is `app` or `group-<keyed hash of the group>`;
the browser keeps its token in page memory, still bound to the session that received it.
"""

from __future__ import annotations

import secrets

SCOPES = ("memory", "session", "local", "app")
SHARED = "shared"  # the session part of the backend key of every `app` value
APP = "app"  # the instance of an `app` store without `group=`
NO_GROUP = "no-group"  # the instance a request outside every group reads (never written)
# The instance of the records (in no session) that name the app's stores other processes
# rendered: they hold a store's options, never its value.
STORE_LIST = "store"

# Idle lifetime on the server, refreshed on every read and write.
DEFAULT_TTL: dict[str, float] = {
    "memory": 12 * 3600.0,
    "session": 7 * 24 * 3600.0,
    "local": 90 * 24 * 3600.0,
    "app": 365 * 24 * 3600.0,
}
SEED_TTL = 90 * 24 * 3600.0  # layout data shared by every instance of a store


def check_scope(storage_type: str) -> str:
    if storage_type not in SCOPES:
        raise ValueError(f"storage_type must be one of {', '.join(SCOPES)}; got {storage_type!r}")
    return storage_type


def browser_storage(scope: str) -> str:
    """Where the browser keeps the token (`dcc.Store`'s storage_type): an `app` value lives
    on the server only, so its token lives as long as the page."""
    return "memory" if scope == "app" else scope


def new_instance(scope: str) -> str:
    """A fresh scope instance: a new page load or tab; the browser itself for `local`."""
    if scope == "app":
        raise ValueError("an app store has no fresh instance: its instance is its group")
    if scope == "local":
        return "local"
    return f"{'page' if scope == 'memory' else 'tab'}-{secrets.token_urlsafe(9)}"


def unbound_instance(scope: str) -> str:
    """The instance for a write whose browser sent no token at all.

    That happens when a store created after the page loaded (returned by a callback, or in
    a page's layout function) is written by a callback that does not read it: the browser had
    downloaded the callbacks before we knew to ask it for that store's token. Writes then
    go to one instance per browser session, so consecutive writes still build on each other;
    the next page load sends the token and gets per-tab instances again. Such an instance
    starts from the layout data last rendered for the same session (never another's).
    """
    return "local" if scope == "local" else f"{scope}-unbound"
