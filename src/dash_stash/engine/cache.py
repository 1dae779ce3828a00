"""Decoded small frames and arrays of recent versions, kept in this process (decision 62).

Decoding a small DataFrame costs a fixed ~0.2-0.4 ms (the record's header, pyarrow's IPC
reader, checking every column, building the frame), most of a 1,000-row read; one copy of
its blocks costs 0.02-0.05 ms. So the engine keeps the decoded value of a recent version
and hands every read its own copy of it.

Why this is safe:

- The backend is still asked on every read: a deleted or expired key reads as None and is
  never looked up here, and a newer version has another cache key.
- A hit needs the record just read to hold the same bytes as the one decoded (compared
  byte for byte, a memcmp): a version number alone would not do, since a key deleted and
  written again starts at version 1 again. So nothing is ever served that the backend does
  not hold now.
- Only values whose copy shares nothing writable are kept (`codec.copier`): plain numbers,
  bools and datetimes. The kept value never leaves the cache; each read, the first one too,
  gets a new copy it may change in place without anyone else seeing it.
- Only small immutable records (bytes, up to `max_value` bytes) are kept: a large value is
  read as a copy-on-write mapping of its file and costs no copy already, and caching it
  would keep every recent large value in every worker. The whole cache holds at most
  `max_bytes` (the record's bytes and the decoded value, counted as twice the record);
  the least recently read go first.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .. import codec
from ..backends import Record, StoreKey

MAX_BYTES = 64 * 1024 * 1024  # per process
MAX_VALUE = 1024 * 1024  # a record's size; larger ones are read from their file, no copy


class _Kept:
    __slots__ = ("version", "data", "copy", "size")

    def __init__(self, version: int, data: bytes, copy: Callable[[], Any], size: int) -> None:
        self.version, self.data, self.copy, self.size = version, data, copy, size


class DecodedCache:
    """The decoded value of the latest version read of each key (one entry per key: a new
    version replaces the old), checked against the record's bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_value: int = MAX_VALUE) -> None:
        self.max_bytes = max_bytes
        self.max_value = max_value
        self._kept: OrderedDict[StoreKey, _Kept] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        _caches.add(self)

    def read(self, record: Record, decode: Callable[[], Any]) -> Any:
        """The value of `record`, the caller's own: a copy of the kept one when `record`
        holds the bytes it was decoded from, else `decode()` (kept if it may be)."""
        data = record.value.data
        if type(data) is not bytes or record.value.codec != codec.TYPED:
            return decode()  # JSON: one orjson.loads is the floor; memoryviews: large values
        key = record.key
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
        if kept is not None and kept.version == record.version and kept.data == data:
            return kept.copy()
        value = decode()
        size = 2 * len(data)
        if len(data) > self.max_value or size > self.max_bytes:
            return value
        copy = codec.copier(value)
        if copy is None:
            return value
        self._keep(key, _Kept(record.version, data, copy, size))  # `value` stays in here
        return copy()

    def _keep(self, key: StoreKey, kept: _Kept) -> None:
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._kept[key] = kept
            self._bytes += kept.size
            while self._bytes > self.max_bytes:
                _, gone = self._kept.popitem(last=False)
                self._bytes -= gone.size

    def forget(self, key: StoreKey) -> None:
        """Drop what is kept of `key` (deleted, expired or never written): memory only, as
        a kept value is served only against the bytes the backend holds."""
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._bytes -= old.size

    def __len__(self) -> int:
        return len(self._kept)


# A process forked while another thread held a cache's lock (a background job's process,
# forked from the web server) must not inherit it held: what is kept stays valid there.
_caches: weakref.WeakSet[DecodedCache] = weakref.WeakSet()


def _after_fork() -> None:
    for cache in list(_caches):
        cache._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
