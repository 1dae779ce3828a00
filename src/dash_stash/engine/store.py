"""Reads and atomic writes of one store's value, on any backend.

Every write becomes one `Backend.commit`: the backend hands us the latest record inside its
atomic step and we return the new encoded value. So a Patch or a merge is always applied to
the latest version, whatever else committed since the writer read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import codec
from ..backends import Backend, Record, StoreKey
from ..codec import Encoded
from ..errors import CorruptRecordError, ValueTooLargeError
from .merge import merge3, resolve_policy
from .patch import apply_patch

log = logging.getLogger("dash_stash")

Initial = Callable[[], Any]


def _nothing() -> Any:
    return None


@dataclass(frozen=True)
class Replace:
    """Replace the value (a writer that did not read the store, like `dcc.Store`)."""

    value: Any


@dataclass(frozen=True)
class PatchWrite:
    """Apply `dash.Patch` operations to the latest value."""

    operations: list[dict]


@dataclass(frozen=True)
class Merge:
    """Apply the change base -> ours onto the latest value (a writer that read `base`).

    `load_base` gives a fresh copy of what the writer read (callbacks often change the copy
    they were given in place); it is only called when someone committed in between.
    """

    load_base: Callable[[], Any]
    base_version: int
    ours: Any
    on_conflict: str | Callable[[Any, Any, Any], Any] = "last-writer-wins"
    base: Encoded | None = None  # the encoding of what the writer read, if known


Write = Replace | PatchWrite | Merge


class StashEngine:
    """Reads and commits values of any key on one backend."""

    def __init__(
        self,
        backend: Backend,
        *,
        max_value_bytes: int = 512 * 1024 * 1024,
        sweep_every: float = 60.0,
    ) -> None:
        self.backend = backend
        self.max_value_bytes = max_value_bytes
        self.sweep_every = sweep_every
        self._last_sweep = time.monotonic()
        self._sweep_lock = threading.Lock()

    def read(
        self,
        key: StoreKey,
        *,
        ttl: float | None = None,
        initial: Initial = _nothing,
        label: str = "",
    ) -> tuple[Any, Record | None]:
        """The latest value and its record; `initial()` and None if never written."""
        record = self.backend.read(key, ttl)
        if record is None:
            return initial(), None
        return self.decode(record, label or key.store_id), record

    def commit(
        self,
        key: StoreKey,
        write: Write,
        *,
        ttl: float,
        writer: str = "",
        initial: Initial = _nothing,
        label: str = "",
        typed: bool = True,
        keep_equal: bool = False,
    ) -> Record | None:
        """Commit `write` atomically on the latest version; on any error nothing changes.

        `typed=False`: values are kept as a `dcc.Store` gives them back (`codec.encode`), and
        the merge works on the writer's value as it will read it back. `keep_equal`: a full
        value equal to the current one commits nothing and returns None (as `dcc.Store` leaves
        browser storage alone when rewritten unchanged): a merge whose writer changed nothing
        of what it read, or a replace by the latest value. A Patch always commits."""
        label = label or key.store_id
        ready = self.encode(write.value, label, typed) if isinstance(write, Replace) else None
        if isinstance(write, Merge):
            ours = self.encode(write.ours, label, typed)  # fails early, outside the lock
            if keep_equal and write.base is not None and codec.same(ours, write.base):
                return None  # nothing changed from what it read: the merge is the latest
        if keep_equal and ready is not None:
            latest = self.backend.read(key, ttl)
            if latest is not None and codec.same(ready, latest.value):
                return None

        def update(latest: Record | None) -> Encoded:
            if isinstance(write, Merge) and (latest.version if latest else 0) == write.base_version:
                return ours  # nobody committed since the writer read: its value is the merge
            current = self.decode(latest, label) if latest else initial()
            if isinstance(write, PatchWrite):
                return self.encode(apply_patch(current, write.operations), label, typed)
            resolve = resolve_policy(write.on_conflict, label)
            mine = write.ours if typed else codec.decode(ours)
            merged = merge3(write.load_base(), mine, current, resolve, codec.equal)
            return self.encode(merged, label, typed)

        record = self.backend.commit(key, ready or update, ttl=ttl, writer=writer)
        self.maybe_sweep()
        return record

    def delete(self, key: StoreKey) -> bool:
        """Remove a key and its history."""
        return self.backend.delete(key)

    def decode(self, record: Record, label: str) -> Any:
        """Decode a record; a corrupt one names the key and is left in place for inspection."""
        try:
            return codec.decode(record.value)
        except CorruptRecordError as exc:
            raise CorruptRecordError(
                f"{label}: the stored record {record.key} (version {record.version}) cannot be "
                f"decoded: {exc}. It was left as it is; clear the store to start again."
            ) from None

    def encode(self, value: Any, label: str, typed: bool = True) -> Encoded:
        """Encode a value for `label`'s store, within the size limit."""
        encoded = codec.encode(value, store=label, typed=typed)
        if encoded.size > self.max_value_bytes:
            raise ValueTooLargeError(
                f"{label}: the value is {encoded.size:,} bytes encoded, over the limit of "
                f"{self.max_value_bytes:,} bytes; store less, or raise the limit with "
                "dash_stash.init(app, max_value_bytes=...)"
            )
        return encoded

    def maybe_sweep(self) -> None:
        """Sweep expired keys at most once per `sweep_every` seconds in this process."""
        now = time.monotonic()
        if now - self._last_sweep < self.sweep_every or not self._sweep_lock.acquire(False):
            return
        try:
            self._last_sweep = now
            removed = self.backend.sweep()
            if removed:
                log.info("dash-stash swept %d expired stores", removed)
        except Exception:  # a failed sweep must never fail the write that triggered it
            log.exception("dash-stash: sweeping expired stores failed")
        finally:
            self._sweep_lock.release()
