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

import orjson

from .. import codec
from ..backends import Backend, Record, StoreKey, Usage
from ..backends.base import Change
from ..codec import Compression, Encoded
from ..errors import CorruptRecordError, QuotaError, ValueTooLargeError
from .cache import DecodedCache
from .merge import Conflict, merge3, recording, resolve_policy
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


@dataclass(frozen=True)
class Restore:
    """Make an old version's value current again, as a new version (history stays)."""

    record: Record


Write = Replace | PatchWrite | Merge | Restore

# `Record.kind` of each write, as the inspector shows it.
KINDS = ("replace", "patch", "merge", "restore")


class StashEngine:
    """Reads and commits values of any key on one backend."""

    def __init__(
        self,
        backend: Backend,
        *,
        max_value_bytes: int = 32 * 1024 * 1024,
        sweep_every: float = 60.0,
        compression: Compression = Compression(),
        cache: DecodedCache | None = None,
    ) -> None:
        self.backend = backend
        self.cache = DecodedCache() if cache is None else cache  # small decoded frames
        self.max_value_bytes = max_value_bytes
        self.compression = compression  # for large tables and arrays (see codec.compression)
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
            self.cache.forget(key)
            return initial(), None
        value = self.cache.read(record, lambda: self.decode(record, label or key.store_id, own))
        return value, record

    def read_version(self, key: StoreKey, version: int) -> Record | None:
        """One version's record, the latest or a kept older one; None if not kept."""
        latest = self.backend.read(key)
        if latest is None or latest.version == version:
            return latest
        return next((r for r in self.backend.history(key) if r.version == version), None)

    def commit(
        self,
        key: StoreKey,
        write: Write,
        *,
        ttl: float,
        writer: str = "",
        initial: Initial = _nothing,
        label: str = "",
        quota: Callable[[Usage], int] | None = None,
        typed: bool = True,
        keep_equal: bool = False,
    ) -> Record | None:
        """Commit `write` atomically on the latest version; on any error nothing changes.

        `quota`: the most bytes the new value may have given its session's `Usage` (what
        its quota leaves; raising `QuotaError` if it may not be written at all). Asked
        before any work, so a write over it fails early, and again by the backend inside
        the commit (`backends.Check`), so that concurrent writes of one session cannot
        pass it together.
        `typed=False`: values are kept as a `dcc.Store` gives them back (`codec.encode`), and
        the merge works on the writer's value as it will read it back. `keep_equal`: a full
        value equal to the current one commits nothing and returns None (as `dcc.Store` leaves
        browser storage alone when rewritten unchanged): a merge whose writer changed nothing
        of what it read, or a replace by the latest value. A Patch always commits.

        The version records its kind of write, and for a merge what the policy settled."""
        label = label or key.store_id
        room = None if quota is None else quota(self.backend.usage(key))
        ready = None
        if isinstance(write, Replace):
            ready = Change(self.encode(write.value, label, room, typed, stream=True), "replace")
        elif isinstance(write, Restore):
            details = orjson.dumps({"from": write.record.version}).decode()
            ready = Change(self._within(write.record.value, label, room), "restore", details)
        elif isinstance(write, Merge):
            ours = self.encode(write.ours, label, typed=typed, stream=True)  # fails early
            if keep_equal and write.base is not None and codec.same(ours, write.base):
                return None  # nothing changed from what it read: the merge is the latest
        replace = isinstance(write, Replace) and ready is not None
        if keep_equal and replace and self._holds(key, ready.value, ttl):
            return None

        def update(latest: Record | None) -> Change:
            if isinstance(write, Merge) and (latest.version if latest else 0) == write.base_version:
                return Change(self._within(ours, label, room), "replace")  # nobody wrote since
            current = self.decode(latest, label) if latest else initial()
            if isinstance(write, PatchWrite):
                patched = apply_patch(current, write.operations)
                return Change(self.encode(patched, label, room, typed, stream=True), "patch")
            assert isinstance(write, Merge)
            conflicts: list[Conflict] = []
            resolve = recording(resolve_policy(write.on_conflict, label), conflicts)
            mine = write.ours if typed else codec.decode(ours)
            merged = merge3(write.load_base(), mine, current, resolve, codec.equal)
            details = {
                "base": write.base_version,
                "theirs": latest.version if latest else 0,
                "theirs_writer": latest.writer if latest else "",
                "conflicts": [c.as_json() for c in conflicts],
            }
            encoded = self.encode(merged, label, room, typed, stream=True)
            return Change(encoded, "merge", orjson.dumps(details).decode())

        def check(usage: Usage, value: Encoded) -> None:
            assert quota is not None
            self._within(value, label, quota(usage))

        record = self.backend.commit(
            key, ready or update, ttl=ttl, writer=writer, check=None if quota is None else check
        )
        self.maybe_sweep()
        return record

    def _holds(self, key: StoreKey, value: Encoded, ttl: float) -> bool:
        """Is `value` the latest value of `key` already? The backend compares the bytes
        where they are (a large value is never read whole for this); only JSON, whose key
        order a browser's round trip may change, is read and compared as values."""
        if value.codec != codec.JSON:
            return self.backend.holds(key, value, ttl)
        latest = self.backend.read(key, ttl)
        return latest is not None and codec.same(value, latest.value)

    def delete(self, key: StoreKey) -> bool:
        """Remove a key and its history."""
        self.cache.forget(key)
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

    def encode(
        self,
        value: Any,
        label: str,
        room: int | None = None,
        typed: bool = True,
        stream: bool = False,
    ) -> Encoded:
        """Encode a value for `label`'s store, within the size limit (and `room`); `typed`:
        see `commit`. `stream`: for a commit that writes it at once, a large value may be
        `codec.Streamed` (written from `value` where it goes, never whole in memory)."""
        encoded = codec.encode(
            value, store=label, typed=typed, compression=self.compression, stream=stream
        )
        if encoded.size > self.max_value_bytes:
            raise ValueTooLargeError(
                f"{label}: the value is {encoded.size:,} bytes encoded, over the limit of "
                f"{self.max_value_bytes:,} bytes; store less, or raise the limit with "
                "dash_stash.init(app, max_value_bytes=...)"
            )
        return self._within(encoded, label, room)

    @staticmethod
    def _within(encoded: Encoded, label: str, room: int | None) -> Encoded:
        if room is not None and encoded.size > room:
            raise QuotaError(
                f"{label}: the value is {encoded.size:,} bytes encoded, and this browser "
                f"session's stores have only {max(room, 0):,} bytes left of their quota; "
                "nothing was written. Store less, clear stores you no longer need, or raise "
                "it with dash_stash.init(app, max_session_bytes=...)"
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
