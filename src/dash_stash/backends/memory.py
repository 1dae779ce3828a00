"""`memory://`: everything in this process's memory. For tests and single-process apps."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from ..codec import Encoded
from .base import Backend, Check, Record, Retention, StoreKey, Update, history_kept, new_value


class MemoryBackend(Backend):
    """A dict behind one lock; commits are atomic because they hold it."""

    def __init__(self, retention: Retention | None = None) -> None:
        self.url = "memory://"
        self.retention = retention or Retention()
        self._lock = threading.RLock()
        self._latest: dict[StoreKey, Record] = {}
        self._history: dict[StoreKey, list[Record]] = {}

    def read(self, key: StoreKey, ttl: float | None = None) -> Record | None:
        with self._lock:
            record = self._live(key, time.time())
            if record is not None and ttl is not None:
                record = self._latest[key] = replace(record, expires=time.time() + ttl)
            return record

    def commit(
        self,
        key: StoreKey,
        update: Update,
        *,
        ttl: float,
        writer: str = "",
        check: Check | None = None,
    ) -> Record:
        with self._lock:
            now = time.time()
            latest = self._live(key, now)
            change = new_value(update, latest)
            if check is not None:  # under the lock every commit takes
                check(self.usage(key), change.value)
            value = change.value.laid_out()  # a `Streamed` value's bytes, a snapshot
            if isinstance(value.data, memoryview) and not value.data.readonly:
                value = Encoded(value.codec, bytes(value.data))  # lent by a reader: copy it
            if value is not change.value:
                change = replace(change, value=value)
            record = Record(
                key=key,
                value=change.value,
                version=(latest.version if latest else 0) + 1,
                created=latest.created if latest else now,
                updated=now,
                expires=now + ttl,
                writer=writer,
                kind=change.kind,
                details=change.details,
            )
            old = ([latest] if latest else []) + self._history.get(key, [])
            self._history[key] = old[: history_kept([r.value.size for r in old], self.retention)]
            self._latest[key] = record
        self.changed({key: record.version})
        return record

    def delete(self, key: StoreKey) -> bool:
        with self._lock:
            self._history.pop(key, None)
            existed = self._latest.pop(key, None) is not None
        if existed:
            self.changed({key: 0})
        return existed

    def touch(self, key: StoreKey, ttl: float) -> bool:
        return self.read(key, ttl) is not None

    def keys(self, namespace: str, session: str | None = None) -> list[StoreKey]:
        with self._lock:
            now = time.time()
            return sorted(
                k
                for k, r in self._latest.items()
                if k.namespace == namespace
                and (session is None or k.session == session)
                and r.expires > now
            )

    def namespaces(self) -> list[str]:
        with self._lock:
            now = time.time()
            return sorted({k.namespace for k, r in self._latest.items() if r.expires > now})

    def history(self, key: StoreKey) -> list[Record]:
        with self._lock:
            return list(self._history.get(key, []))

    def sweep(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._lock:
            expired = [k for k, r in self._latest.items() if r.expires <= now]
            for k in expired:
                self.delete(k)
            return len(expired)

    def _live(self, key: StoreKey, now: float) -> Record | None:
        record = self._latest.get(key)
        if record is not None and record.expires <= now:
            self.delete(key)
            return None
        return record
