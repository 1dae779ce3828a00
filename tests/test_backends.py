"""The backend contract, one suite run on every backend (memory, SQLite, Redis): versions,
history, expiry, keys, usage. What only one backend has is tested beside it."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dash_stash.backends import Retention, StoreKey, Usage, open_backend
from dash_stash.codec import Encoded, decode, encode

KEY = StoreKey("ns", "s1", "local", "user_data")


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, tmp_path):
    url = {
        "memory": lambda: "memory://",
        "sqlite": lambda: f"sqlite:///{tmp_path}/stash.db",
        "redis": lambda: request.getfixturevalue("redis_url"),  # a real redis-server
    }[request.param]()
    b = open_backend(url, Retention(versions=3, max_bytes=1000))
    yield b
    b.close()


def put(backend, key, value, ttl=60.0, writer="w"):
    return backend.commit(key, lambda latest: encode(value), ttl=ttl, writer=writer)


def test_versions_start_at_one_and_increase_by_one(backend):
    assert backend.read(KEY) is None
    assert [put(backend, KEY, i).version for i in range(4)] == [1, 2, 3, 4]
    record = backend.read(KEY)
    assert (decode(record.value), record.version, record.writer) == (3, 4, "w")
    assert record.created <= record.updated < record.expires


def test_commit_sees_latest_and_passes_it_to_update(backend):
    put(backend, KEY, {"n": 1})
    seen = []
    backend.commit(KEY, lambda latest: seen.append(latest.version) or encode(2), ttl=60)
    assert seen == [1]


def test_failed_update_leaves_value_version_and_history(backend):
    put(backend, KEY, "kept")

    def boom(latest):
        raise ValueError("no")

    with pytest.raises(ValueError):
        backend.commit(KEY, boom, ttl=60)
    record = backend.read(KEY)
    assert (decode(record.value), record.version) == ("kept", 1)
    assert backend.history(KEY) == []


def test_history_is_bounded_by_count_and_bytes(backend):
    for i in range(6):
        put(backend, KEY, i, writer=f"w{i}")
    history = backend.history(KEY)
    assert [decode(r.value) for r in history] == [4, 3, 2]  # 3 versions kept
    assert [(r.version, r.writer) for r in history] == [(5, "w4"), (4, "w3"), (3, "w2")]
    for c in "xyz":
        put(backend, KEY, c * 600)
    # Newest first: "y"*600 fits in 1000 bytes, "x"*600 would pass them: only one is kept.
    assert [decode(r.value) for r in backend.history(KEY)] == ["y" * 600]


def test_expiry_read_refreshes_and_sweep_spares_live(backend):
    live = StoreKey("ns", "s1", "local", "live")
    dead = StoreKey("ns", "s1", "local", "dead")
    put(backend, live, 1, ttl=0.5)
    put(backend, dead, 2, ttl=0.5)
    put(backend, live, 3, ttl=0.5)  # history too must live as long as the record
    time.sleep(0.3)
    assert backend.read(live, ttl=0.5) is not None  # refreshed until now+0.5
    time.sleep(0.3)
    assert backend.sweep() == 1  # the dead store's index entry
    assert backend.read(dead) is None
    assert decode(backend.read(live).value) == 3
    assert [decode(r.value) for r in backend.history(live)] == [1]
    assert backend.keys("ns") == [live]


def test_sqlite_reads_write_the_expiry_once_per_slack(tmp_path):
    """A hot store's reads do not each take SQLite's write lock to move its expiry: a read
    leaves it when it is within `refresh_slack(ttl)` of now + ttl, and moves it otherwise."""
    from dash_stash.backends.sqlite import refresh_slack

    b = open_backend(f"sqlite:///{tmp_path}/stash.db")
    ttl = 1.6
    assert refresh_slack(ttl) == 0.1 and refresh_slack(90 * 86400) == 60.0
    committed = put(b, KEY, 1, ttl=ttl).expires
    assert b.read(KEY, ttl=ttl).expires == committed  # just written: left as it is
    time.sleep(0.15)
    refreshed = b.read(KEY, ttl=ttl).expires
    assert refreshed >= committed + 0.15  # past the slack: moved to now + ttl
    assert b.read(KEY, ttl=ttl).expires == refreshed
    with sqlite3.connect(tmp_path / "stash.db") as conn:  # stored, not only returned
        assert conn.execute("SELECT expires FROM keys").fetchall() == [(refreshed,)]
    assert b.read(KEY).expires == refreshed  # a read without a TTL never moves it
    b.close()


def test_expired_record_is_gone_and_restarts_at_one(backend):
    put(backend, KEY, 1, ttl=0.2)
    put(backend, KEY, 2, ttl=0.2)
    time.sleep(0.3)
    assert backend.read(KEY) is None
    assert backend.keys("ns") == []
    assert put(backend, KEY, 3).version == 1
    assert backend.history(KEY) == []


def test_keys_delete_and_touch(backend):
    other = StoreKey("ns", "s2", "local", "user_data")
    put(backend, KEY, 1)
    put(backend, KEY, 11)
    put(backend, other, 2)
    put(backend, StoreKey("other-app", "s1", "local", "x"), 3)
    assert backend.keys("ns") == [KEY, other]
    assert backend.keys("ns", "s2") == [other]
    assert backend.keys("nobody") == []
    assert backend.namespaces() == ["ns", "other-app"]
    assert backend.touch(KEY, 600) and not backend.touch(StoreKey("ns", "s9", "x", "y"), 60)
    assert 590 < backend.read(KEY).expires - time.time() <= 600
    assert backend.delete(KEY) and not backend.delete(KEY)
    assert backend.read(KEY) is None and backend.history(KEY) == []
    assert backend.keys("ns") == [other]


def test_values_are_bytes_as_given(backend):
    blob = Encoded("json", b'{"a":[1,2,3]}')
    backend.commit(KEY, lambda latest: blob, ttl=60)
    assert backend.read(KEY).value == blob
    raw = Encoded("arrow", bytes(range(256)) * 4096)  # 1 MB, every byte value, NULs included
    backend.commit(KEY, lambda latest: raw, ttl=60)
    assert backend.read(KEY).value == raw
    assert backend.history(KEY)[0].value == blob


def test_holds_tells_whether_the_latest_value_is_these_bytes(backend):
    """What an unchanged write checks instead of reading the latest value whole: exact codec
    and bytes, small or large (SQLite compares a value file a slice at a time); a live match
    has its expiry pushed on like a read."""
    big = bytes(range(256)) * 8192  # 2 MiB: a value file on SQLite
    assert not backend.holds(KEY, Encoded("typed", big), ttl=60)  # absent
    for data in (b'{"a":1}', big):
        backend.commit(KEY, lambda latest, data=data: Encoded("typed", data), ttl=0.5)
        assert backend.holds(KEY, Encoded("typed", data), ttl=60)
        assert not backend.holds(KEY, Encoded("json", data), ttl=60)  # another codec
        changed = data[:-1] + bytes([data[-1] ^ 1])  # the same size, the last byte changed
        assert not backend.holds(KEY, Encoded("typed", changed), ttl=60)
        assert not backend.holds(KEY, Encoded("typed", data + b"x"), ttl=60)
    time.sleep(0.6)  # past the commit's TTL: alive only because holds refreshed it
    assert backend.holds(KEY, Encoded("typed", big), ttl=60)


def test_sqlite_holds_is_not_fooled_by_a_rowid_given_to_another_key(tmp_path):
    """The unchanged check reads the key's head, then its row's bytes by rowid. If the key is
    cleared in between, SQLite gives that rowid to the next new row: another session's, which
    may hold the very same bytes (the same default). That is not this key holding them: the
    write must not be skipped, or the user's value is silently lost."""
    url = f"sqlite:///{tmp_path}/stash.db"
    b, elsewhere = open_backend(url), open_backend(url)
    same = Encoded("json", b'{"items":[]}')
    other = StoreKey("ns", "s2", "local", "user_data")
    b.commit(KEY, lambda latest: same, ttl=60)

    def rowids() -> list[tuple[str, int]]:
        with sqlite3.connect(tmp_path / "stash.db") as db:
            return db.execute("SELECT session, rowid FROM versions").fetchall()

    before = rowids()
    head = b._latest

    def cleared_meanwhile(*args):  # what another worker does between the two statements
        row = head(*args)
        elsewhere.delete(KEY)
        elsewhere.commit(other, lambda latest: same, ttl=60)
        return row

    b._latest = cleared_meanwhile
    assert not b.holds(KEY, same, ttl=60)
    assert [r for _, r in before] == [r for _, r in rowids()]  # the rowid went to s2's row
    b._latest = head
    b.commit(KEY, lambda latest: same, ttl=60)
    assert decode(b.read(KEY).value) == {"items": []}


def test_sqlite_value_files_read_as_private_buffers(tmp_path):
    """A value file is mapped copy-on-write: the reader may write into what it got (a frame
    living in it), and neither the file, another read, nor a read after the file is pruned
    sees that; the buffer outlives the file."""
    b = open_backend(f"sqlite:///{tmp_path}/stash.db")
    data = bytes(range(256)) * 8192  # 2 MiB: a value file
    b.commit(KEY, lambda latest: Encoded("typed", data), ttl=60)
    mine, other = b.read(KEY).value.data, b.read(KEY).value.data
    assert not mine.readonly
    mine[:4] = b"mine"
    assert bytes(other) == data and bytes(b.read(KEY).value.data) == data
    (path,) = (tmp_path / "stash.db.blobs").iterdir()
    assert path.read_bytes() == data
    b.commit(KEY, lambda latest: Encoded("typed", b"small"), ttl=60)
    b.delete(KEY)  # the file is gone; what was read is not
    assert not any((tmp_path / "stash.db.blobs").iterdir())
    assert bytes(mine[:4]) == b"mine" and bytes(mine[4:]) == data[4:]
    b.close()


def test_sqlite_urls(tmp_path, monkeypatch):
    from dash_stash.backends.sqlite import path_from_url

    assert str(path_from_url("sqlite:///rel/x.db")) == "rel/x.db"
    assert str(path_from_url("sqlite:////abs/x.db")) == "/abs/x.db"
    monkeypatch.chdir(tmp_path)
    b = open_backend("sqlite:///sub/dir/s.db")
    put(b, KEY, 1)
    assert (tmp_path / "sub" / "dir" / "s.db").exists()


def test_bad_urls_say_what_to_write(tmp_path):
    from dash_stash.errors import BackendError

    with pytest.raises(BackendError, match="unknown backend URL 'postgres://x'"):
        open_backend("postgres://x")
    (tmp_path / "file").write_text("")
    with pytest.raises(BackendError, match="cannot open the SQLite backend"):
        open_backend(f"sqlite:///{tmp_path}/file/inside.db")


def test_sqlite_keeps_large_values_in_files_and_removes_them_with_their_rows(tmp_path):
    from dash_stash.backends.sqlite import FILE_SIZE

    b = open_backend(
        f"sqlite:///{tmp_path}/stash.db", Retention(versions=1, max_bytes=10 * FILE_SIZE)
    )
    big = [encode("a" * FILE_SIZE), encode("b" * FILE_SIZE), encode("c" * FILE_SIZE)]
    b.commit(KEY, big[0], ttl=60)
    b.commit(KEY, lambda latest: big[1], ttl=60)  # computed under the lock, also to a file
    b.commit(KEY, big[2], ttl=60)
    files = sorted(p.name for p in (tmp_path / "stash.db.blobs").iterdir())
    assert len(files) == 2  # the latest and one old version; the oldest was pruned
    assert b.read(KEY).value == big[2] and [r.value for r in b.history(KEY)] == [big[1]]
    other = open_backend(f"sqlite:///{tmp_path}/stash.db")
    assert other.read(KEY).value == big[2]  # another connection (process) reads the file
    b.delete(KEY)
    assert list((tmp_path / "stash.db.blobs").iterdir()) == []


def test_sqlite_failed_commit_leaves_no_file_behind(tmp_path):
    from dash_stash.backends.sqlite import FILE_SIZE

    b = open_backend(f"sqlite:///{tmp_path}/stash.db")
    b.commit(KEY, encode("small"), ttl=60)

    def boom(latest):
        raise ValueError("no")

    with pytest.raises(ValueError):
        b.commit(KEY, boom, ttl=60)
    b.commit(KEY, encode("x" * FILE_SIZE), ttl=0.01)  # expires at once
    time.sleep(0.05)
    assert b.sweep() == 1
    assert list((tmp_path / "stash.db.blobs").iterdir()) == []


def test_usage_counts_a_sessions_instances_and_other_bytes(backend):
    def raw(key, size, ttl=60.0):
        backend.commit(key, Encoded("json", b"1" * size), ttl=ttl)

    a = StoreKey("ns", "s1", "page-a", "x")
    raw(a, 10)
    raw(StoreKey("ns", "s1", "page-a", "y"), 20)
    raw(StoreKey("ns", "s1", "page-b", "x"), 30)
    raw(StoreKey("ns", "s2", "page-c", "x"), 99)  # another session
    raw(StoreKey("ns", "s1", "page-d", "x"), 5, ttl=0.01)  # expires
    time.sleep(0.05)
    assert backend.usage(a) == Usage(2, True, 50)
    assert backend.usage(StoreKey("ns", "s1", "page-new", "x")) == Usage(2, False, 60)
    assert backend.usage(StoreKey("ns", "nobody", "local", "x")) == Usage(0, False, 0)
    # Older versions kept count too: only `a`'s latest value is what its next write replaces.
    raw(a, 7)
    raw(StoreKey("ns", "s1", "page-b", "x"), 4)
    assert backend.usage(a) == Usage(2, True, 10 + 20 + 30 + 4)
    assert backend.usage(StoreKey("ns", "s1", "page-new", "x")) == Usage(2, False, 71)


def test_a_check_is_met_atomically_across_a_sessions_keys(backend):
    """`commit(check=...)` (a session's quota): the check sees the session's usage as it is
    at the commit, so writes racing each other into different keys of one session cannot
    pass it together; a failing check commits nothing."""
    limit = 250

    def within(usage, value):
        if usage.other_bytes + value.size > limit:
            raise ValueError("over")

    start = threading.Barrier(12)

    def write(n):
        key = StoreKey("ns", "s1", f"page-{n}", "x")
        start.wait()
        try:
            backend.commit(key, Encoded("json", b"1" * 100), ttl=60, check=within)
        except ValueError:
            return False
        return True

    with ThreadPoolExecutor(12) as pool:
        committed = list(pool.map(write, range(12)))
    assert committed.count(True) == 2  # 200 bytes; a third would make 300
    assert backend.usage(StoreKey("ns", "s1", "page-new", "x")).other_bytes == 200
    # Another session is checked on its own; a refused first write leaves no key behind.
    assert backend.commit(StoreKey("ns", "s2", "p", "x"), encode(1), ttl=60, check=within)
    with pytest.raises(ValueError):
        backend.commit(
            StoreKey("ns", "s2", "q", "x"), Encoded("json", b"1" * 300), ttl=60, check=within
        )
    assert backend.read(StoreKey("ns", "s2", "q", "x")) is None


def test_versions_of_many_keys_without_their_values(backend):
    other = StoreKey("ns", "s2", "app", "board")
    put(backend, KEY, 1)
    put(backend, KEY, 2)
    assert backend.versions([KEY, other]) == {KEY: 2, other: 0}
    backend.delete(KEY)
    assert backend.versions([KEY]) == {KEY: 0}


def test_a_watcher_hears_every_commit_and_delete(backend):
    heard: list = []
    backend.watch(heard.append)
    put(backend, KEY, 1)
    backend.delete(KEY)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not ({KEY: 1} in heard and {KEY: 0} in heard):
        time.sleep(0.02)  # Redis: the messages come back through pub/sub
    assert {KEY: 1} in heard and {KEY: 0} in heard


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_watcher_hears_commits_made_through_another_connection(kind, request, tmp_path):
    """Another process or host (here: another backend object, with connections of its own)."""
    url = (
        f"sqlite:///{tmp_path}/stash.db"
        if kind == "sqlite"
        else request.getfixturevalue("redis_url")
    )
    watched, writer = open_backend(url), open_backend(url)
    heard: list = []
    watched.watch(heard.append)
    put(writer, KEY, 1)
    deadline = time.monotonic() + 10
    # SQLite's feed says only "something changed" (None): the watcher then asks versions
    while time.monotonic() < deadline and not ({KEY: 1} in heard or None in heard):
        time.sleep(0.02)
    assert {KEY: 1} in heard or (None in heard and watched.versions([KEY]) == {KEY: 1})
    watched.close()
    writer.close()


def _frame(rows: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"f{j}": rng.random(rows) for j in range(10)})


def test_sqlite_streams_a_large_value_to_its_file_and_compares_it_there(tmp_path):
    """A frame's value file is written from the frame itself, and the check that a rewrite
    is unchanged reads that file; neither lays the record out in memory. What the commit
    returns is the file's bytes, a snapshot: changing the frame afterwards changes nothing."""
    b = open_backend(f"sqlite:///{tmp_path}/stash.db")
    df = _frame(20_000)
    streamed = encode(df, stream=True)
    record = b.commit(KEY, streamed, ttl=60)
    assert not streamed.in_memory
    (path,) = (tmp_path / "stash.db.blobs").iterdir()
    assert path.read_bytes() == bytes(encode(df).data)
    assert record.value.data.readonly and bytes(record.value.data) == path.read_bytes()
    again = encode(df, stream=True)
    assert b.holds(KEY, again, 60) and not again.in_memory
    df.iloc[-1, -1] = -1.0  # in place, after the commit
    assert bytes(record.value.data) == path.read_bytes()
    assert decode(b.read(KEY).value).iloc[-1, -1] != -1.0
    changed = encode(df, stream=True)
    assert not b.holds(KEY, changed, 60) and not changed.in_memory
    assert b.commit(KEY, lambda latest: changed, ttl=60).version == 2  # under the lock too
    assert decode(b.read(KEY).value).iloc[-1, -1] == -1.0
    assert not changed.in_memory
    b.close()


_WRITE_TOO_BIG = """
import resource, signal, sys
from dash_stash.backends import open_backend
from dash_stash.codec import encode
from tests.test_backends import KEY, _frame

if sys.argv[2] == "killed":  # the kernel kills the process at the limit (Python ignores
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # the signal: the write then fails, EFBIG)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # and leaves no core file
b = open_backend(f"sqlite:///{sys.argv[1]}/stash.db")
resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))  # no file over 2 MiB
try:
    b.commit(KEY, encode(_frame(100_000, seed=1), stream=True), ttl=60)  # 8 MB
except OSError as exc:
    print("failed:", exc.errno)
"""


@pytest.mark.parametrize("how", ["ignore", "killed"])
def test_sqlite_write_cut_off_mid_file_leaves_the_previous_version(tmp_path, how):
    """The operating system stops a value file mid-write (a file size limit: the write
    fails, or the process is killed, as when the disk fills or the worker is killed):
    the previous version stays the latest and readable, and no partial file is read or
    counted; a killed process's part file is removed by the sweep once old."""
    import os
    import signal
    import subprocess
    import sys

    b = open_backend(f"sqlite:///{tmp_path}/stash.db")
    df = _frame(20_000)
    b.commit(KEY, encode(df, stream=True), ttl=86_400)
    kept = sorted((tmp_path / "stash.db.blobs").iterdir())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-c", _WRITE_TOO_BIG, str(tmp_path), how],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if how == "ignore":
        assert done.returncode == 0 and done.stdout.strip() == "failed: 27", done.stderr  # EFBIG
        assert sorted((tmp_path / "stash.db.blobs").iterdir()) == kept  # the part removed
    else:
        assert done.returncode == -signal.SIGXFSZ, done.stderr
        parts = [p for p in (tmp_path / "stash.db.blobs").iterdir() if p not in kept]
        assert [p.name.endswith(".part") for p in parts] == [True]
        assert parts[0].stat().st_size == 2 << 20  # cut off there
    record = b.read(KEY)
    assert record.version == 1 and decode(record.value).equals(df)
    assert b.history(KEY) == [] and b.usage(KEY).other_bytes == 0
    b.sweep()
    assert len(list((tmp_path / "stash.db.blobs").iterdir())) == len(kept) + (how == "killed")
    b.sweep(now=time.time() + 2 * 3600)  # a part an hour old is a failed commit's: removed
    assert sorted((tmp_path / "stash.db.blobs").iterdir()) == kept
    assert decode(b.read(KEY).value).equals(df)
    b.close()


_PEAK = """
import ctypes, gc, sys
from pathlib import Path
from dash_stash.backends import open_backend
from dash_stash.engine import StashEngine
from dash_stash.engine.store import Replace
from tests.test_backends import KEY, _frame

def status(field):
    lines = Path("/proc/self/status").read_text().splitlines()
    line = next(t for t in lines if t.startswith(field))
    return int(line.split()[1]) * 1024

engine = StashEngine(open_backend(f"sqlite:///{sys.argv[1]}/stash.db"), max_value_bytes=2**30)
df = _frame(500_000)  # 40 MB
engine.commit(KEY, Replace(df), ttl=60)
changed = df.copy()
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)
Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
before = status("VmRSS:")
unchanged = [engine.commit(KEY, Replace(df), ttl=60, keep_equal=True) for _ in range(3)]
changed.iloc[-1, -1] = -1.0
committed = engine.commit(KEY, Replace(changed), ttl=60, keep_equal=True)
print(unchanged == [None] * 3, committed.version, (status("VmHWM:") - before) / 2**20)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux /proc only")
def test_sqlite_large_writes_do_not_hold_the_record_in_memory(tmp_path):
    """Rewriting a 40 MB frame, unchanged (compared with its file) and then changed (a new
    file), raises the process's peak memory by a few MiB, not by the 40 MB of the record
    (before streaming: +40 MiB, the record laid out in one buffer)."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    unchanged, version, peak_mib = done.stdout.split()
    assert (unchanged, version) == ("True", "2"), done.stderr
    assert float(peak_mib) < 10, done.stdout


def test_a_streamed_value_is_stored_as_its_bytes_at_commit(backend):
    """Every backend keeps what a streamed frame held when it was committed: changing the
    frame in place afterwards changes neither the record the commit returned nor a read."""
    df = _frame(2_000)
    before = encode(df)
    record = backend.commit(KEY, encode(df, stream=True), ttl=60)
    df.iloc[:, :] = 0.0
    assert record.value == before and backend.read(KEY).value == before
    assert decode(backend.read(KEY).value).iloc[0, 0] != 0.0
