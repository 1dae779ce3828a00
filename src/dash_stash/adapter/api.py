"""The apps' API for history: `dash_stash.history(store)` and `dash_stash.restore(store, v)`.

Inside a callback a store is named by its id (this browser's, this tab's value), so these
need the running callback (callbacks.py); the work itself is the core's (`inspect.py`).
"""

from __future__ import annotations

import time
from typing import Any

from .._types import StoreKey
from ..engine import Restore
from ..errors import StashError
from ..inspect import Version, record_at, versions
from .callbacks import current_call
from .integration import stash_for


def history(store: str | StoreKey) -> list[Version]:
    """A store's versions, newest first: version, time, writer, kind of write.

    Inside a callback, name the store by its id: it is this browser's (and this tab's)
    value, so the callback must have the store as an Input, State or Output. Outside a
    callback, give its `StoreKey` (from `Stash.keys(store_id)`).
    """
    stash, key = _where(store, "dash_stash.history")
    return versions(stash.engine.backend, key)


def restore(store: str | StoreKey, version: int) -> Any:
    """Make an old version current again, as a new version (history stays append-only).

    Inside a callback (store by id) it returns a marker: return it as the store's Output,
    and the page follows, with the store's dependent callbacks firing as after any write.
    Outside a callback (store by `StoreKey`) it returns the new `Record`; pages that hold
    the store see the restored value at their next read.
    """
    stash, key = _where(store, "dash_stash.restore")
    call = current_call()
    if isinstance(store, str) and call is not None:
        with call.errors(store):  # the message names the callback and the store
            return call.restore(store, record_at(stash.engine.backend, key, version))
    old = record_at(stash.engine.backend, key, version)
    spec = stash.stores.get(key.store_id)
    ttl = spec.ttl if spec else max(60.0, old.expires - time.time())
    return stash.engine.commit(key, Restore(old), ttl=ttl, writer="dash_stash.restore")


def _where(store: str | StoreKey, what: str) -> tuple[Any, StoreKey]:
    if isinstance(store, StoreKey):
        return stash_for(store.namespace), store
    call = current_call()
    if call is None:
        raise StashError(
            f"{what}({store!r}) outside a callback: there is no browser to say whose store "
            "is meant; pass its StoreKey instead (see Stash.keys(store_id))"
        )
    return call.stash, call.where(store, what).key
