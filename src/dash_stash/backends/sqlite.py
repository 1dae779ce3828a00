"""`sqlite:///path.db`: the embedded default. Safe for several processes on one host.

WAL lets readers run beside the one writer; `BEGIN IMMEDIATE` takes the write lock before we
read the latest version, so read-update-write is one atomic step across processes; the busy
timeout makes concurrent writers queue instead of failing.

Values of 256 KiB and more live in files beside the database (`<db>.blobs/`), named in their
row: SQLite would copy a large blob through its WAL and again into the database file, which
made an 80 MB table several times slower to write than writing a file (an 800 KB one 3x).
A blob file is written whole (streamed: a table goes from the frame to the file, never whole
in memory) and renamed into place before the row that names it commits, and removed only
after the commit that drops its row, so a row never names a missing or partial file for
long (a reader that races a removal reads the version again).

Everything is private to the user the app runs as: a folder we create is 0700, the blob
folder 0700, the database (and so its WAL and SHM, which SQLite creates with the database's
mode) and every blob file 0600. A file name read from the database is used only if it is one
we make (32 hex digits), so an edited row cannot point a read outside the blob folder. A file
is read as a private copy-on-write mapping (`buffers.read_file`), so a removal after the open
cannot cut it short, and the buffer is the reader's alone: frames can live in it, writable.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..codec import Encoded
from ..codec.buffers import file_holds, read_file, same_bytes, stream_holds
from ..errors import BackendError, CorruptRecordError
from .base import (
    Backend,
    Check,
    Head,
    Record,
    Retention,
    StoreKey,
    Update,
    Usage,
    history_kept,
    is_ready,
    log,
    new_value,
)

# `keys` holds one small row per store (its latest version and expiry), so refreshing expiry
# on a read never rewrites a value; `versions` is append-only (the latest and its history), so
# a commit never copies the old value, and old versions are pruned in place. `expires` has no
# index on purpose: every read and commit moves it, while only the minutely sweep scans it.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    namespace TEXT NOT NULL, session TEXT NOT NULL, scope TEXT NOT NULL, store_id TEXT NOT NULL,
    version INTEGER NOT NULL, created REAL NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (namespace, session, scope, store_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    namespace TEXT NOT NULL, session TEXT NOT NULL, scope TEXT NOT NULL, store_id TEXT NOT NULL,
    version INTEGER NOT NULL, size INTEGER NOT NULL, updated REAL NOT NULL, writer TEXT NOT NULL,
    codec TEXT NOT NULL, value BLOB NOT NULL, file TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT '', details TEXT NOT NULL DEFAULT '',
    UNIQUE (namespace, session, scope, store_id, version)
);
"""
# Columns added since 0.1, for databases created before them: (name, declaration).
_ADDED = (("kind", "TEXT NOT NULL DEFAULT ''"), ("details", "TEXT NOT NULL DEFAULT ''"))
_KEY = "namespace = ? AND session = ? AND scope = ? AND store_id = ?"
_LATEST = (
    "SELECT k.version, k.created, k.expires, v.updated, v.writer, v.codec, v.value, v.file, "
    "v.kind, v.details "
    "FROM keys k LEFT JOIN versions v ON v.namespace = k.namespace AND v.session = k.session "
    "AND v.scope = k.scope AND v.store_id = k.store_id AND v.version = k.version "
    "WHERE k.namespace = ? AND k.session = ? AND k.scope = ? AND k.store_id = ?"
)
# What `holds` needs of the latest version: the `_LATEST` head, then where its value is.
_WHERE = (
    "SELECT k.version, k.created, k.expires, v.codec, v.rowid, length(v.value), v.file "
    + _LATEST[_LATEST.index("FROM keys") :]
)
_PRUNE_EVERY = 8  # versions; a large value prunes at once, so history stays within its bytes
_PRUNE_SIZE = 64 * 1024
# Values this large go to a file beside the database. Measured in one process (10 numeric
# columns): at 800 KB (10,000 rows) a file read 4x and wrote 3-4x faster than a row, and
# left no copy in SQLite's page cache or the heap; at 80-240 KB a row was still faster.
FILE_SIZE = 256 * 1024
_ORPHAN_AGE = 3600.0  # a blob file no row names, older than this, is a failed commit's
_FILE_NAME = re.compile(r"[0-9a-f]{32}")  # what `_stage` names a blob file
FEED_POLL = 0.05  # seconds between checks for other processes' commits (see `start_feed`)


def refresh_slack(ttl: float) -> float:
    """How far short of now + `ttl` a read may leave a key's expiry: a minute, or a 16th of
    a short TTL. A key read more often than that is written once per slack, not per read."""
    return min(ttl / 16, 60.0)


def path_from_url(url: str) -> Path:
    """`sqlite:///rel.db` is relative to the working directory, `sqlite:////abs.db` absolute."""
    if not url.startswith("sqlite:///"):
        raise BackendError(
            f"not a SQLite URL: {url!r}; write sqlite:///relative.db or sqlite:////absolute/path.db"
        )
    return Path(url[len("sqlite:///") :])


class SQLiteBackend(Backend):
    """One SQLite file; one connection per thread and per process (fork-safe)."""

    def __init__(
        self,
        url: str,
        retention: Retention | None = None,
        busy_timeout: float = 60.0,
        *,
        read_only: bool = False,
    ) -> None:
        self.url = url
        self.path = path_from_url(url)
        self.retention = retention or Retention()
        self.busy_timeout = busy_timeout
        self.read_only = read_only  # for `dash-stash inspect`: never creates or writes
        self.blobs = self.path.with_name(self.path.name + ".blobs")
        self._local = threading.local()
        self._idle: tuple[int, list] = (os.getpid(), [])  # (pid, idle connections and inodes)
        try:
            if read_only:
                self._conn().execute("SELECT 1 FROM keys LIMIT 1")
            else:
                _private_folder(self.path.parent)
                _private_folder(self.blobs)
                _private_file(self.path)
                self._conn().executescript(_SCHEMA)
                self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise BackendError(
                f"cannot open the SQLite backend {url!r} ({exc}); check that the folder "
                "exists and is writable, or set DASH_STASH_BACKEND to another URL"
            ) from exc

    def _migrate(self) -> None:
        """Add the columns a database made by an older dash-stash lacks (old rows: '')."""

        def missing(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            have = {row[1] for row in conn.execute("PRAGMA table_info(versions)")}
            return [column for column in _ADDED if column[0] not in have]

        if not missing(self._conn()):
            return
        with self._write() as conn:  # checked again under the lock: another process may be first
            for name, declaration in missing(conn):
                conn.execute(f"ALTER TABLE versions ADD COLUMN {name} {declaration}")

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection. A thread that ends gives its connection back to the
        process's pool (threaded servers start a thread per request; a new connection and its
        pragmas cost 0.5 ms, reusing one 20 µs)."""
        lease = getattr(self._local, "lease", None)
        if lease is None or lease.pid != os.getpid():
            lease = self._local.lease = _Lease(self._pool(), self._connect, self.path)
        return lease.conn

    def _pool(self) -> list[tuple[sqlite3.Connection, int | None]]:
        if self._idle[0] != os.getpid():  # forked: the parent's connections are not ours
            self._idle = (os.getpid(), [])
        return self._idle[1]

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            conn = self._connect_read_only()
        else:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that cannot write: `mode=ro`, which sees a running app's WAL; if the
        WAL's index cannot be made (a read-only folder: a copy, a read-only mount), the file
        as it is (`immutable=1`)."""
        for options in ("mode=ro", "mode=ro&immutable=1"):
            conn = sqlite3.connect(
                f"file:{self.path.resolve()}?{options}",
                uri=True,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                conn.execute("SELECT 1 FROM keys LIMIT 1")
                return conn
            except sqlite3.OperationalError:
                conn.close()
                if "immutable" in options:
                    raise
        raise AssertionError("unreachable")

    def read(self, key: StoreKey, ttl: float | None = None) -> Record | None:
        for _ in range(5):  # a commit may prune the version's file meanwhile
            row = self._latest(key, ttl)
            if row is None:
                return None
            record = self._record(key, *row)
            if record is not None:
                return record
        raise BackendError(f"{key}: the latest version vanished five times while reading")

    def holds(self, key: StoreKey, value: Encoded, ttl: float) -> bool:
        """Compared where the latest value lies, a slice at a time: its file, or its row
        (SQLite's incremental blob reads), so that neither it nor a `Streamed` new value is
        ever read whole into memory for this."""
        row = self._latest(key, ttl, _WHERE)
        if row is None or row[3] != value.codec:
            return False
        version, rowid, size, file = row[0], row[4], row[5], row[6]
        if file:
            try:
                return file_holds(self._file(key, version, file), value.size, value.write_to)
            except FileNotFoundError:  # pruned by a commit since: no longer the latest
                return False
        if size != value.size:
            return False
        conn = self._conn()
        if not hasattr(conn, "blobopen"):  # Python 3.10
            latest = self._version(conn, key, version, 0.0, 0.0)
            return latest is not None and same_bytes(latest.value.data, value.data)
        try:
            with conn.blobopen("versions", "value", rowid, readonly=True) as blob:
                if not stream_holds(blob, value.write_to):
                    return False
        except sqlite3.OperationalError:  # the row went since (pruned: no longer the latest)
            return False
        # The blob was found by rowid after the head was read: if the key was cleared in
        # between, SQLite may have given its rowid to another key's new row, which can hold
        # the same bytes (two sessions' same default); a "holds" then would skip this write.
        return (
            conn.execute(
                f"SELECT 1 FROM versions WHERE rowid = ? AND {_KEY} AND version = ?",
                (rowid, *_params(key), version),
            ).fetchone()
            is not None
        )

    def _latest(self, key: StoreKey, ttl: float | None, sql: str = _LATEST) -> tuple | None:
        """The `_LATEST` row (or `sql`'s, which starts as it does) of a live key, its expiry
        refreshed when `ttl` asks. One statement for the head and the value; the expiry is
        written only when the refresh would move it by more than `refresh_slack(ttl)`: a
        write transaction on every read of a hot store cost more than the rest of a small
        read, and queued behind every other process's commits."""
        conn = self._conn()
        for _ in range(5):  # a commit may move the key on between our two statements
            now = time.time()
            row = conn.execute(f"{sql} AND k.expires > ?", (*_params(key), now)).fetchone()
            if row is None or ttl is None or row[2] >= now + ttl - refresh_slack(ttl):
                return row
            moved = conn.execute(
                f"UPDATE keys SET expires = ? WHERE {_KEY} AND version = ? AND expires > ? "
                "RETURNING expires",
                (now + ttl, *_params(key), row[0], now),
            ).fetchone()
            if moved is not None:
                return (*row[:2], moved[0], *row[3:])
        raise BackendError(f"{key}: the latest version moved on five times while reading")

    def _version(
        self, conn: sqlite3.Connection, key: StoreKey, version: int, created: float, expires: float
    ) -> Record | None:
        row = conn.execute(
            f"SELECT updated, writer, codec, value, file, kind, details FROM versions WHERE "
            f"{_KEY} AND version = ?",
            (*_params(key), version),
        ).fetchone()
        return None if row is None else self._record(key, version, created, expires, *row)

    def _record(
        self,
        key: StoreKey,
        version: int,
        created: float,
        expires: float,
        updated: float | None,
        writer: str,
        codec: str,
        data: bytes,
        file: str,
        kind: str = "",
        details: str = "",
    ) -> Record | None:
        if updated is None:  # the LEFT JOIN found no such version
            return None
        if file:
            try:
                data = read_file(self._file(key, version, file))
            except FileNotFoundError:  # pruned by a commit since our SELECT
                return None
        value = Encoded(codec, data)
        return Record(key, value, version, created, updated, expires, writer, kind, details)

    def _file(self, key: StoreKey, version: int, file: str) -> Path:
        """The path of a value file a row names, if it is a name we make."""
        if not _FILE_NAME.fullmatch(file):
            raise CorruptRecordError(
                f"{key} (version {version}): its row names the value file {file!r}, "
                "which is not a name dash-stash makes; the row was edited. Not read."
            )
        return self.blobs / file

    def commit(
        self,
        key: StoreKey,
        update: Update,
        *,
        ttl: float,
        writer: str = "",
        check: Check | None = None,
    ) -> Record:
        # A ready value is written to its file before we take the lock; others wait less.
        staged = self._stage(new_value(update, None).value) if is_ready(update) else ""
        try:
            record = self._commit(key, update, ttl, writer, staged, check)
        except BaseException:
            self._unlink([staged])
            raise
        self.changed({key: record.version})
        return record

    def _commit(
        self,
        key: StoreKey,
        update: Update,
        ttl: float,
        writer: str,
        staged: str,
        check: Check | None,
    ) -> Record:
        with self._write() as conn:
            now = time.time()
            if is_ready(update):  # a replace: the latest value is not needed
                head = conn.execute(
                    f"SELECT version, created, expires FROM keys WHERE {_KEY}", _params(key)
                ).fetchone()
            else:  # one statement for the head and the latest value
                head = conn.execute(_LATEST, _params(key)).fetchone()
            if head is not None and head[2] <= now:  # expired, not swept yet: start again
                self._delete_rows(conn, key)
                head = None
            latest = None
            if head is not None and not is_ready(update):
                latest = self._record(key, *head)
                if latest is None:
                    raise BackendError(f"{key}: version {head[0]} is missing from {self.path}")
                head = head[:3]
            change = new_value(update, latest)
            value = change.value
            if check is not None:  # in the write transaction: no other commit runs meanwhile
                check(self.usage(key), value)
            file = staged or self._stage(value)
            if not file:  # a `Streamed` value's bytes (a snapshot), for the row
                value = value.laid_out()
            version, created = (head[0] + 1, head[1]) if head else (1, now)
            conn.execute(
                "INSERT INTO versions (namespace, session, scope, store_id, version, size, "
                "updated, writer, codec, value, file, kind, details) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *_params(key),
                    version,
                    value.size,
                    now,
                    writer,
                    value.codec,
                    b"" if file else value.data,
                    file,
                    change.kind,
                    change.details,
                ),
            )
            if head is None:
                conn.execute(
                    "INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*_params(key), version, created, now + ttl),
                )
            else:
                conn.execute(
                    f"UPDATE keys SET version = ?, expires = ? WHERE {_KEY}",
                    (version, now + ttl, *_params(key)),
                )
            if version % _PRUNE_EVERY == 0 or value.size >= _PRUNE_SIZE or head is None:
                self._prune(conn, key, version)
            if file:  # what was written, never the writer's value (a streamed one reads it)
                value = Encoded(value.codec, read_file(self.blobs / file).toreadonly())
            return Record(
                key, value, version, created, now, now + ttl, writer, change.kind, change.details
            )

    def _prune(self, conn: sqlite3.Connection, key: StoreKey, latest: int) -> None:
        """Drop old versions beyond what `history_kept` keeps."""
        rows = conn.execute(
            f"SELECT version, size FROM versions WHERE {_KEY} AND version < ? "
            "ORDER BY version DESC LIMIT ?",
            (*_params(key), latest, self.retention.versions + _PRUNE_EVERY + 1),
        ).fetchall()
        kept = history_kept([size for _, size in rows], self.retention)
        if kept < len(rows):
            self._delete_rows(conn, key, "AND version <= ?", rows[kept][0])

    def delete(self, key: StoreKey) -> bool:
        with self._write() as conn:
            existed = self._delete_rows(conn, key) > 0
        if existed:
            self.changed({key: 0})
        return existed

    def versions(self, keys: list[StoreKey]) -> dict[StoreKey, int]:
        found = dict.fromkeys(keys, 0)
        conn = self._conn()
        for start in range(0, len(keys), 200):  # 800 parameters a statement, far below 32766
            chunk = keys[start : start + 200]
            rows = conn.execute(
                "SELECT namespace, session, scope, store_id, version FROM keys "
                "WHERE expires > ? AND (namespace, session, scope, store_id) IN "
                f"(VALUES {', '.join(['(?, ?, ?, ?)'] * len(chunk))})",
                (time.time(), *(part for key in chunk for part in _params(key))),
            ).fetchall()
            for namespace, session, scope, store_id, version in rows:
                found[StoreKey(namespace, session, scope, store_id)] = version
        return found

    def start_feed(self) -> None:
        """Other processes on this host commit to the same file: a thread of each process
        asks SQLite every `FEED_POLL` seconds whether any other connection changed the
        database (`PRAGMA data_version`, a few microseconds, no disk read); if so, the
        watchers check the versions of what they watch."""
        conn = self._connect()
        first = conn.execute("PRAGMA data_version").fetchone()[0]  # before `watch` returns

        def poll() -> None:
            seen = first
            while True:
                time.sleep(FEED_POLL)
                try:
                    now = conn.execute("PRAGMA data_version").fetchone()[0]
                except sqlite3.Error:
                    log.exception("dash-stash: watching %s for changes failed", self.path)
                    continue
                if now != seen:
                    seen = now
                    self.changed(None)

        threading.Thread(target=poll, name="dash-stash-sqlite-feed", daemon=True).start()

    def _delete_rows(
        self, conn: sqlite3.Connection, key: StoreKey, where: str = "", *args: object
    ) -> int:
        """Delete versions (all, with the key, unless `where` narrows them); their files go
        after the commit. Returns how many keys rows went (0 or 1)."""
        params = (*_params(key), *args)
        self._local.doomed += [
            f
            for (f,) in conn.execute(
                f"SELECT file FROM versions WHERE {_KEY} {where} AND file != ''", params
            )
        ]
        conn.execute(f"DELETE FROM versions WHERE {_KEY} {where}", params)
        if where:
            return 0
        return conn.execute(f"DELETE FROM keys WHERE {_KEY}", _params(key)).rowcount

    def touch(self, key: StoreKey, ttl: float) -> bool:
        return self.read(key, ttl) is not None

    def keys(self, namespace: str, session: str | None = None) -> list[StoreKey]:
        sql = "SELECT namespace, session, scope, store_id FROM keys WHERE namespace = ?"
        params: list = [namespace]
        if session is not None:
            sql += " AND session = ?"
            params.append(session)
        sql += " AND expires > ? ORDER BY session, scope, store_id"
        rows = self._conn().execute(sql, (*params, time.time())).fetchall()
        return [StoreKey(*row) for row in rows]

    def usage(self, key: StoreKey) -> Usage:
        instances, has_instance, other_bytes = (
            self._conn()
            .execute(
                "SELECT count(DISTINCT k.scope), coalesce(max(k.scope = ?), 0), "
                "coalesce(sum(CASE WHEN k.scope = ? AND k.store_id = ? AND v.version = k.version "
                "THEN 0 ELSE v.size END), 0) "
                "FROM keys k JOIN versions v ON v.namespace = k.namespace "
                "AND v.session = k.session AND v.scope = k.scope AND v.store_id = k.store_id "
                "WHERE k.namespace = ? AND k.session = ? AND k.expires > ?",
                (key.scope, key.scope, key.store_id, key.namespace, key.session, time.time()),
            )
            .fetchone()
        )
        return Usage(instances, bool(has_instance), other_bytes)

    def namespaces(self) -> list[str]:
        rows = (
            self._conn()
            .execute(
                "SELECT DISTINCT namespace FROM keys WHERE expires > ? ORDER BY namespace",
                (time.time(),),
            )
            .fetchall()
        )
        return [namespace for (namespace,) in rows]

    def head(self, key: StoreKey) -> Head | None:
        row = (
            self._conn()
            .execute(
                "SELECT k.version, v.size, v.codec, v.writer, v.kind, v.updated, k.expires "
                "FROM keys k JOIN versions v ON v.namespace = k.namespace "
                "AND v.session = k.session AND v.scope = k.scope AND v.store_id = k.store_id "
                "AND v.version = k.version WHERE k.namespace = ? AND k.session = ? "
                "AND k.scope = ? AND k.store_id = ? AND k.expires > ?",
                (*_params(key), time.time()),
            )
            .fetchone()
        )
        return Head(key, *row) if row else None

    def history(self, key: StoreKey) -> list[Record]:
        conn = self._conn()
        head = conn.execute(
            f"SELECT version, created FROM keys WHERE {_KEY} AND expires > ?",
            (*_params(key), time.time()),
        ).fetchone()
        if head is None:
            return []
        rows = conn.execute(
            f"SELECT version, size FROM versions WHERE {_KEY} AND version < ? "
            "ORDER BY version DESC",
            (*_params(key), head[0]),
        ).fetchall()
        kept = history_kept([size for _, size in rows], self.retention)
        older = (self._version(conn, key, version, head[1], 0.0) for version, _ in rows[:kept])
        return [record for record in older if record is not None]

    def sweep(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._write() as conn:
            # Expiry is checked inside the write lock, so a key touched a moment ago survives.
            expired = conn.execute(
                "SELECT namespace, session, scope, store_id FROM keys WHERE expires <= ?", (now,)
            ).fetchall()
            for row in expired:
                self._delete_rows(conn, StoreKey(*row))
            named = {f for (f,) in conn.execute("SELECT file FROM versions WHERE file != ''")}
        for path in self.blobs.glob("*"):  # files of commits that failed after staging
            with contextlib.suppress(OSError):
                if path.name not in named and path.stat().st_mtime < now - _ORPHAN_AGE:
                    path.unlink()
        return len(expired)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the lock first (`BEGIN IMMEDIATE`)."""
        conn = self._conn()
        self._local.doomed = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._unlink(self._local.doomed)  # rows that named them are gone for good now

    def _stage(self, value: Encoded) -> str:
        """Write a large value to a new blob file; return its name ("" for small values).

        The bytes go straight to a hidden `.part` file (`Encoded.write_to`: a large table is
        written column by column from the frame, never laid out in memory first), which is
        renamed into place once whole; on any error it is removed, so a failed write leaves
        neither a value file nor a part (a killed process may leave a part, which is never
        read and which the sweep removes after an hour)."""
        if value.size < FILE_SIZE:
            return ""
        name = os.urandom(16).hex()
        part = self.blobs / f".{name}.part"
        try:
            with open(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                value.write_to(out)
            part.replace(self.blobs / name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            raise
        return name

    def _unlink(self, names: list[str]) -> None:
        for name in names:
            if _FILE_NAME.fullmatch(name):
                with contextlib.suppress(FileNotFoundError):
                    (self.blobs / name).unlink()

    def close(self) -> None:
        lease = getattr(self._local, "lease", None)
        if lease is not None:
            lease.conn.close()
            lease.pool = None  # closed: not back to the pool
            self._local.lease = None
        pool = self._pool()
        while pool:
            with contextlib.suppress(IndexError):
                pool.pop()[0].close()


class _Lease:
    """One thread's hold on a connection; when the thread ends (its locals are freed), the
    connection goes back to the pool for the next thread. A connection is used by one thread
    at a time, so `check_same_thread=False` is safe. A pooled connection is only reused while
    the database file it opened is still there: one that was removed or replaced meanwhile
    gets a new connection, which fails loudly, as it did before there was a pool."""

    def __init__(self, pool: list, connect: Callable[[], sqlite3.Connection], path: Path) -> None:
        self.pid = os.getpid()
        self.pool: list | None = None  # set once we hold a connection to give back
        while True:
            try:
                conn, inode = pool.pop()  # list.pop and append are atomic
            except IndexError:
                conn = connect()
                inode = _inode(path)
                break
            if inode is not None and inode == _inode(path):
                break
            conn.close()
        self.conn, self.inode, self.pool = conn, inode, pool

    def __del__(self) -> None:
        if self.pool is not None and self.pid == os.getpid():
            self.pool.append((self.conn, self.inode))


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _private_folder(path: Path) -> None:
    """Create `path` as 0700; tighten it if it is the default `.dash_stash` or ours."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True)
    elif path.name == ".dash_stash" or path.name.endswith(".blobs"):
        path.chmod(0o700)


def _private_file(path: Path) -> None:
    """Create the database file as 0600 before SQLite does (it gives its WAL and SHM the
    database's mode), and tighten an existing one and its WAL and SHM."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            part.chmod(0o600)


def _params(key: StoreKey) -> tuple[str, str, str, str]:
    return (key.namespace, key.session, key.scope, key.store_id)
