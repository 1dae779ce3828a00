"""`sqlite:///path.db`: the embedded default. Safe for several processes on one host.

WAL lets readers run beside the one writer; `BEGIN IMMEDIATE` takes the write lock before we
read the latest version, so read-update-write is one atomic step across processes; the busy
timeout makes concurrent writers queue instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from ..codec import Encoded
from ..errors import BackendError
from .base import Backend, Record, Retention, StoreKey, Update, history_kept

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    namespace TEXT NOT NULL, session TEXT NOT NULL, scope TEXT NOT NULL, store_id TEXT NOT NULL,
    codec TEXT NOT NULL, value BLOB NOT NULL, version INTEGER NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL, expires REAL NOT NULL, writer TEXT NOT NULL,
    PRIMARY KEY (namespace, session, scope, store_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_expires ON records (expires);
CREATE TABLE IF NOT EXISTS history (
    namespace TEXT NOT NULL, session TEXT NOT NULL, scope TEXT NOT NULL, store_id TEXT NOT NULL,
    version INTEGER NOT NULL, codec TEXT NOT NULL, value BLOB NOT NULL, size INTEGER NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL, writer TEXT NOT NULL,
    PRIMARY KEY (namespace, session, scope, store_id, version)
) WITHOUT ROWID;
"""
_KEY = "namespace = ? AND session = ? AND scope = ? AND store_id = ?"
_COLUMNS = "codec, value, version, created, updated, expires, writer"


def path_from_url(url: str) -> Path:
    """`sqlite:///rel.db` is relative to the working directory, `sqlite:////abs.db` absolute."""
    if not url.startswith("sqlite:///"):
        raise BackendError(f"not a SQLite URL: {url!r}; write sqlite:///relative.db or "
                           "sqlite:////absolute/path.db")
    return Path(url[len("sqlite:///"):])


class SQLiteBackend(Backend):
    """One SQLite file; one connection per thread and per process (fork-safe)."""

    def __init__(self, url: str, retention: Retention | None = None,
                 busy_timeout: float = 60.0) -> None:
        self.url = url
        self.path = path_from_url(url)
        self.retention = retention or Retention()
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn().executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise BackendError(
                f"cannot open the SQLite backend {url!r} ({exc}); check that the folder "
                "exists and is writable, or set DASH_STASH_BACKEND to another URL"
            ) from exc

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def read(self, key: StoreKey, ttl: float | None = None) -> Record | None:
        now = time.time()
        if ttl is None:
            row = self._conn().execute(
                f"SELECT {_COLUMNS} FROM records WHERE {_KEY} AND expires > ?",
                (*_params(key), now),
            ).fetchone()
        else:
            row = self._conn().execute(
                f"UPDATE records SET expires = ? WHERE {_KEY} AND expires > ? "
                f"RETURNING {_COLUMNS}",
                (now + ttl, *_params(key), now),
            ).fetchone()
        return _record(key, row)

    def commit(self, key: StoreKey, update: Update, *, ttl: float, writer: str = "") -> Record:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            latest = _record(key, conn.execute(
                f"SELECT {_COLUMNS} FROM records WHERE {_KEY} AND expires > ?",
                (*_params(key), now),
            ).fetchone())
            value = update(latest)
            if latest is None:
                conn.execute(f"DELETE FROM history WHERE {_KEY}", _params(key))
            else:
                self._keep_history(conn, latest)
            record = Record(key, value, (latest.version if latest else 0) + 1,
                            latest.created if latest else now, now, now + ttl, writer)
            conn.execute(
                f"INSERT OR REPLACE INTO records (namespace, session, scope, store_id, {_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*_params(key), value.codec, value.data, record.version, record.created,
                 record.updated, record.expires, writer),
            )
            conn.execute("COMMIT")
            return record
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _keep_history(self, conn: sqlite3.Connection, old: Record) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*_params(old.key), old.version, old.value.codec, old.value.data, old.value.size,
             old.created, old.updated, old.writer),
        )
        rows = conn.execute(
            f"SELECT version, size FROM history WHERE {_KEY} ORDER BY version DESC",
            _params(old.key),
        ).fetchall()
        kept = history_kept([size for _, size in rows], self.retention)
        if kept < len(rows):
            conn.execute(f"DELETE FROM history WHERE {_KEY} AND version <= ?",
                         (*_params(old.key), rows[kept][0]))

    def delete(self, key: StoreKey) -> bool:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"DELETE FROM history WHERE {_KEY}", _params(key))
            gone = conn.execute(f"DELETE FROM records WHERE {_KEY}", _params(key)).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return gone > 0

    def touch(self, key: StoreKey, ttl: float) -> bool:
        return self.read(key, ttl) is not None

    def keys(self, namespace: str, session: str | None = None) -> list[StoreKey]:
        sql = "SELECT namespace, session, scope, store_id FROM records WHERE namespace = ?"
        params: list = [namespace]
        if session is not None:
            sql += " AND session = ?"
            params.append(session)
        sql += " AND expires > ? ORDER BY session, scope, store_id"
        rows = self._conn().execute(sql, (*params, time.time())).fetchall()
        return [StoreKey(*row) for row in rows]

    def history(self, key: StoreKey) -> list[Record]:
        rows = self._conn().execute(
            "SELECT codec, value, version, created, updated, 0, writer FROM history "
            f"WHERE {_KEY} ORDER BY version DESC",
            _params(key),
        ).fetchall()
        return [r for r in (_record(key, row) for row in rows) if r is not None]

    def sweep(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Expiry is checked inside the write lock, so a key touched a moment ago survives.
            gone = conn.execute("DELETE FROM records WHERE expires <= ?", (now,)).rowcount
            if gone:
                conn.execute(
                    "DELETE FROM history WHERE NOT EXISTS (SELECT 1 FROM records r WHERE "
                    "r.namespace = history.namespace AND r.session = history.session AND "
                    "r.scope = history.scope AND r.store_id = history.store_id)"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return gone

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _params(key: StoreKey) -> tuple[str, str, str, str]:
    return (key.namespace, key.session, key.scope, key.store_id)


def _record(key: StoreKey, row: tuple | None) -> Record | None:
    if row is None:
        return None
    codec, data, version, created, updated, expires, writer = row
    return Record(key, Encoded(codec, bytes(data)), version, created, updated, expires, writer)
