"""What a backend is: the record it keeps and the few operations the engine needs.

A backend stores bytes; it never decodes a value. Its one hard duty is `commit`: read the
latest record, ask `update` for the new encoded value, and write it as version + 1, all as one
atomic step with respect to every other writer of that key (threads, processes, hosts).
"""

from __future__ import annotations

import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from .._types import StoreKey
from ..codec import Encoded
from ..codec.buffers import same_bytes

log = logging.getLogger("dash_stash")


@dataclass(frozen=True)
class Record:
    """One committed version of a value, with who wrote it and when it expires."""

    key: StoreKey
    value: Encoded
    version: int
    created: float
    updated: float
    expires: float
    writer: str = ""
    kind: str = ""  # how it was written: "replace", "patch", "merge", "restore", ...
    details: str = ""  # JSON object: what a merge's policy settled, which version a restore


@dataclass(frozen=True)
class Head:
    """What a listing shows of a key's latest version, read without its value."""

    key: StoreKey
    version: int
    size: int
    codec: str
    writer: str
    kind: str
    updated: float
    expires: float

    @classmethod
    def of(cls, record: Record) -> Head:
        value = record.value
        return cls(
            record.key,
            record.version,
            value.size,
            value.codec,
            record.writer,
            record.kind,
            record.updated,
            record.expires,
        )


@dataclass(frozen=True)
class Usage:
    """What one session keeps: live scope instances (page loads, tabs, `local`) with written
    stores, whether the key asked about is in one of them, and the bytes of every version
    the session keeps (latest values and history) other than that key's latest value (which
    the next write replaces)."""

    instances: int
    has_instance: bool
    other_bytes: int


@dataclass(frozen=True)
class Retention:
    """How much history a key keeps: at most `versions` old versions and `max_bytes` of them."""

    versions: int = 20
    max_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class Change:
    """What one commit writes: the value, and how it came about (kept with the version, for
    the inspector: `Record.kind` and `Record.details`)."""

    value: Encoded
    kind: str = ""
    details: str = ""


# Given the latest record (None if the key has none), return the value to commit.
# Raising aborts the commit and leaves the key as it was. An optimistic backend (Redis) may
# call it several times for one commit, so it must have no side effects beyond logging.
# A plain value (`Encoded` or `Change`) instead of a function replaces the value whatever it
# was, so a backend need not load the latest one.
Update = Callable[[Record | None], Encoded | Change] | Encoded | Change

# A rule the new value must meet against what its session keeps at the moment it commits
# (its quota): the backend calls it inside the commit's atomic step with the session's
# `Usage` then (what `usage(key)` answers) and the new value; raising aborts the commit,
# which writes nothing. Checked before the commit instead, two writes of one session racing
# each other would both pass on the same usage and together go over.
Check = Callable[[Usage, Encoded], None]


# Told of commits: `{key: new version}` (0: deleted), or None when the backend knows only
# that something may have changed (the watcher then asks `versions` of the keys it watches).
OnChange = Callable[[dict["StoreKey", int] | None], None]


def is_ready(update: Update) -> bool:
    """Is `update` a plain value (a blind replace), not a function of the latest record?"""
    return isinstance(update, (Encoded, Change))


def new_value(update: Update, latest: Record | None) -> Change:
    """What a commit writes: `update(latest)`, or `update` itself when it is a value."""
    change = update if is_ready(update) else update(latest)  # type: ignore[operator]
    return change if isinstance(change, Change) else Change(change)


class Backend(ABC):
    """The storage protocol every backend implements (one file per backend)."""

    url: str = ""

    @abstractmethod
    def read(self, key: StoreKey, ttl: float | None = None) -> Record | None:
        """Return the latest record (None if absent or expired); refresh its expiry to now+ttl
        (SQLite leaves it when that would move it by less than a minute or ttl/16)."""

    @abstractmethod
    def commit(
        self,
        key: StoreKey,
        update: Update,
        *,
        ttl: float,
        writer: str = "",
        check: Check | None = None,
    ) -> Record:
        """Atomically make `new_value(update, latest)` the latest value, as version + 1;
        `check` (see `Check`) is met in the same atomic step with respect to every other
        commit of the key's session."""

    @abstractmethod
    def delete(self, key: StoreKey) -> bool:
        """Remove the key and its history; True if it existed."""

    @abstractmethod
    def touch(self, key: StoreKey, ttl: float) -> bool:
        """Push the key's expiry to now + ttl; True if it exists."""

    @abstractmethod
    def keys(self, namespace: str, session: str | None = None) -> list[StoreKey]:
        """Live keys of a namespace (optionally of one session), for the inspector."""

    @abstractmethod
    def namespaces(self) -> list[str]:
        """The namespaces (apps) that have live keys, for the inspector."""

    def usage(self, key: StoreKey) -> Usage:
        """What `key`'s session keeps besides `key`'s latest value, for its quota (`Usage`)."""
        sizes = self.sizes(key.namespace, key.session)
        instances = {k.scope for k in sizes}
        total = sum(latest + older for latest, older in sizes.values())
        return Usage(len(instances), key.scope in instances, total - sizes.get(key, (0, 0))[0])

    def sizes(self, namespace: str, session: str) -> dict[StoreKey, tuple[int, int]]:
        """The encoded bytes each live key of one session keeps: (its latest value, its older
        versions), for its quota. Backends that can answer without loading values override
        this."""
        found = {}
        for key in self.keys(namespace, session):
            record = self.read(key)
            if record is not None:
                older = sum(r.value.size for r in self.history(key))
                found[key] = (record.value.size, older)
        return found

    def holds(self, key: StoreKey, value: Encoded, ttl: float) -> bool:
        """Is `value` (its codec and bytes) the latest value of `key`? If so its expiry is
        pushed to now + ttl, as a read does. What lets a write of an unchanged value commit
        nothing; a backend that keeps large values apart compares them there, a slice at a
        time, instead of reading the latest into memory beside the new one."""
        latest = self.read(key, ttl)
        return (
            latest is not None
            and latest.value.codec == value.codec
            and latest.value.size == value.size
            and same_bytes(latest.value.data, value.data)
        )

    def head(self, key: StoreKey) -> Head | None:
        """The latest version's metadata without its value (None if absent or expired); for
        listings that poll, so a large value is not read each time. Never extends expiry."""
        record = self.read(key)
        return Head.of(record) if record else None

    def versions(self, keys: list[StoreKey]) -> dict[StoreKey, int]:
        """The latest version of each key (0: absent or expired), without values or expiry
        refresh; for live pages that check what changed."""
        heads = {key: self.head(key) for key in keys}
        return {key: head.version if head else 0 for key, head in heads.items()}

    # -- change notification: every commit and delete, by any writer in any process ----------

    def watch(self, on_change: OnChange) -> None:
        """Call `on_change` after every commit or delete of any key of this backend, made in
        this process or (where the backend can tell) in any other process or host. It runs on
        the committing thread or on a feed thread: it must be quick and never raise."""
        with _WATCH_LOCK:
            watchers = self.__dict__.setdefault("_watchers", [])
            watchers.append(on_change)
            if self.__dict__.get("_feed_pid") != os.getpid():  # first, or a forked child
                self._feed_pid = os.getpid()
                self.start_feed()

    def start_feed(self) -> None:  # noqa: B027 - in-process notifications need no feed
        """Start learning of other processes' commits (called once per process, on the
        first `watch`); call `changed` for each."""

    def changed(self, changes: dict[StoreKey, int] | None) -> None:
        """Tell the watchers: backends call this after each commit or delete of their own,
        and from their feed for other processes' (None: something may have changed)."""
        for on_change in list(self.__dict__.get("_watchers", ())):
            try:
                on_change(changes)
            except Exception:  # a watcher's failure must never fail the commit
                log.exception("dash-stash: a change watcher failed")

    @abstractmethod
    def history(self, key: StoreKey) -> list[Record]:
        """Older versions of a key, newest first (the latest itself is `read`)."""

    @abstractmethod
    def sweep(self, now: float | None = None) -> int:
        """Delete expired keys; return how many. Never removes a key whose expiry is ahead."""

    def close(self) -> None:  # noqa: B027 - optional for backends with nothing to release
        """Release connections."""


_WATCH_LOCK = threading.Lock()


def history_kept(sizes_newest_first: list[int], retention: Retention) -> int:
    """How many of the newest old versions to keep: the one rule every backend applies."""
    total = 0
    for n, size in enumerate(sizes_newest_first[: retention.versions]):
        total += size
        if total > retention.max_bytes:
            return n
    return min(len(sizes_newest_first), retention.versions)
