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
        own: bool = False,
    ) -> tuple[Any, Record | None]:
        """The latest value and its record; `initial()` and None if never written.

        `own`: the caller will not decode the record again, so a large frame may live in the
        buffer the backend read it into (no copy); keep it False to decode it again later."""
        record = self.backend.read(key, ttl)
        if record is None:
            return initial(), None
        return self.decode(record, label or key.store_id, own=own), record

    def commit(
        self,
        key: StoreKey,
        write: Write,
        *,
        ttl: float,
        writer: str = "",
        initial: Initial = _nothing,
        label: str = "",
    ) -> Record:
        """Commit `write` atomically on the latest version; on any error nothing changes."""
        label = label or key.store_id
        ready = self.encode(write.value, label) if isinstance(write, Replace) else None
        if isinstance(write, Merge):
            ours = self.encode(write.ours, label)  # fails early, outside the backend's lock

        def update(latest: Record | None) -> Encoded:
            if isinstance(write, Merge) and (latest.version if latest else 0) == write.base_version:
                return ours  # nobody committed since the writer read: its value is the merge
            current = self.decode(latest, label) if latest else initial()
            if isinstance(write, PatchWrite):
                return self.encode(apply_patch(current, write.operations), label)
            resolve = resolve_policy(write.on_conflict, label)
            merged = merge3(write.load_base(), write.ours, current, resolve, codec.equal)
            return self.encode(merged, label)

        record = self.backend.commit(key, ready or update, ttl=ttl, writer=writer)
        self.maybe_sweep()
        return record

    def delete(self, key: StoreKey) -> bool:
        """Remove a key and its history."""
        return self.backend.delete(key)

    def decode(self, record: Record, label: str, own: bool = False) -> Any:
        """Decode a record; a corrupt one names the key and is left in place for inspection."""
        try:
            return codec.decode(record.value, own=own)
        except CorruptRecordError as exc:
            raise CorruptRecordError(
                f"{label}: the stored record {record.key} (version {record.version}) cannot be "
                f"decoded: {exc}. It was left as it is; clear the store to start again."
            ) from None

    def encode(self, value: Any, label: str) -> Encoded:
        """Encode a value for `label`'s store, within the size limit."""
        encoded = codec.encode(value, store=label)
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
