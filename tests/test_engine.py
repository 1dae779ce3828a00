"""The engine on real SQLite files: no lost updates across processes, crash safety, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from dash import Patch

from dash_stash import codec
from dash_stash.backends import StoreKey, open_backend
from dash_stash.engine import Merge, PatchWrite, Replace, StashEngine
from dash_stash.errors import CorruptRecordError, EncodeError, ValueTooLargeError
from tests.support.stress import KEY, hammer

KEY2 = StoreKey("ns", "s", "local", "user_data")


@pytest.fixture
def engine(tmp_path):
    return StashEngine(open_backend(f"sqlite:///{tmp_path}/stash.db"), max_value_bytes=10_000)


def ops(build) -> list:
    p = Patch()
    build(p)
    return p.to_plotly_json()["operations"]


def test_patch_applies_to_latest(engine):
    engine.commit(KEY2, Replace({"a": 1, "items": []}), ttl=60)
    engine.commit(KEY2, PatchWrite(ops(lambda p: p["items"].append("x"))), ttl=60)
    engine.commit(KEY2, PatchWrite(ops(lambda p: p.update({"b": 2}))), ttl=60)
    value, record = engine.read(KEY2)
    assert value == {"a": 1, "b": 2, "items": ["x"]} and record.version == 3


def test_first_patch_starts_from_initial(engine):
    engine.commit(
        KEY2, PatchWrite(ops(lambda p: p["n"].__iadd__(1))), ttl=60, initial=lambda: {"n": 41}
    )
    assert engine.read(KEY2)[0] == {"n": 42}


def test_merge_of_two_writers_from_one_base_keeps_both(engine):
    engine.commit(KEY2, Replace({"first": None, "last": None}), ttl=60)
    base, record = engine.read(KEY2)
    engine.commit(KEY2, Merge(lambda: dict(base), record.version, {**base, "first": "M"}), ttl=60)
    engine.commit(KEY2, Merge(lambda: dict(base), record.version, {**base, "last": "J"}), ttl=60)
    assert engine.read(KEY2)[0] == {"first": "M", "last": "J"}


def test_unstorable_value_names_path_and_keeps_value(engine):
    engine.commit(KEY2, Replace({"ok": 1}), ttl=60)
    with pytest.raises(EncodeError) as err:
        engine.commit(KEY2, Replace({"when": object()}), ttl=60, label="user_data")
    assert 'user_data["when"]: object of type object is not storable' in str(err.value)
    value, record = engine.read(KEY2)
    assert value == {"ok": 1} and record.version == 1


def test_unstorable_patch_value_keeps_value(engine):
    engine.commit(KEY2, Replace({"ok": 1}), ttl=60)
    with pytest.raises(EncodeError):
        engine.commit(KEY2, PatchWrite(ops(lambda p: p.__setitem__("x", object()))), ttl=60)
    assert engine.read(KEY2)[1].version == 1


def test_oversize_value_gives_size_and_limit(engine):
    engine.commit(KEY2, Replace([1]), ttl=60)
    with pytest.raises(
        ValueTooLargeError,
        match=r"user_data: the value is 20,00\d bytes .* "
        r"limit of 10,000 bytes",
    ):
        engine.commit(KEY2, Replace("x" * 20_000), ttl=60, label="user_data")
    with pytest.raises(ValueTooLargeError):  # a Patch that grows it past the limit, too
        engine.commit(KEY2, PatchWrite(ops(lambda p: p.append("y" * 20_000))), ttl=60)
    assert engine.read(KEY2)[0] == [1]


def test_corrupt_record_is_reported_and_left_alone(engine, tmp_path):
    import sqlite3

    engine.commit(KEY2, Replace({"a": 1}), ttl=60)
    with sqlite3.connect(tmp_path / "stash.db") as db:
        db.execute("UPDATE versions SET value = x'7b2261223a' ")  # '{"a":' cut short
    with pytest.raises(CorruptRecordError, match=r"cannot be decoded.*left as it is"):
        engine.read(KEY2)
    with pytest.raises(CorruptRecordError):
        engine.commit(KEY2, PatchWrite(ops(lambda p: p.update({"b": 1}))), ttl=60)
    with sqlite3.connect(tmp_path / "stash.db") as db:
        assert db.execute("SELECT value, version FROM versions").fetchall() == [(b'{"a":', 1)]


# 64 writers on one key: an engine that reads the value outside its write transaction kept
# 75 of these 3,200 appends (and of the merges' 64 keys, 13), and loses most at n=10 too.
def test_8_processes_x_8_threads_patches_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/stress.db"
    hammer(url, processes=8, threads=8, n=50, mode="patch")
    value, record = StashEngine(open_backend(url)).read(KEY)
    assert len(value["items"]) == 3_200
    assert value["count"] == 3_200
    assert record.version == 6_400
    assert sorted(value["items"]) == sorted(list(range(50)) * 64)


def test_8_processes_x_8_threads_merges_of_different_keys_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/stress.db"
    hammer(url, processes=8, threads=8, n=20, mode="merge")
    value, record = StashEngine(open_backend(url)).read(KEY)
    assert value == {f"p{p}t{t}": 20 for p in range(8) for t in range(8)}
    assert record.version == 8 * 8 * 20


WRITER = textwrap.dedent("""
    import sys
    from dash_stash.backends import StoreKey, open_backend
    from dash_stash.engine import Replace, StashEngine
    engine = StashEngine(open_backend(sys.argv[1]))
    key = StoreKey("ns", "s", "local", "log")
    i = 0
    while True:
        i += 1
        engine.commit(key, Replace({"i": i, "pad": "x" * 2000}), ttl=3600)
        print(i, flush=True)
""")


def test_sigkill_mid_stream_keeps_every_committed_version(tmp_path):
    url = f"sqlite:///{tmp_path}/crash.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True)
    acknowledged = 0
    deadline = time.monotonic() + 30
    while acknowledged < 300 and time.monotonic() < deadline:
        acknowledged = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    engine = StashEngine(open_backend(url))
    key = StoreKey("ns", "s", "local", "log")
    value, record = engine.read(key)
    # Every commit the writer saw return is there; at most the one in flight is not.
    assert record.version >= acknowledged and value["i"] == record.version
    history = engine.backend.history(key)
    assert [r.version for r in history] == list(
        range(record.version - 1, record.version - 1 - len(history), -1)
    )
    import sqlite3

    with sqlite3.connect(tmp_path / "crash.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize("url", ["memory://", "sqlite:///{tmp}/stash.db"])
def test_frames_read_large_are_the_readers_own(tmp_path, url):
    """A frame read from a file-sized record may be changed in place by its callback: another
    read, the merge base of a writer and the stored file all keep what was committed."""
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    from pandas.testing import assert_frame_equal

    engine = StashEngine(open_backend(url.format(tmp=tmp_path)))
    df = pd.DataFrame({"f": np.arange(200_000) * 0.5, "i": np.arange(200_000)})
    engine.commit(KEY2, Replace(df), ttl=60)
    files = sorted((tmp_path / "stash.db.blobs").glob("*")) if "sqlite" in url else []
    assert files or "sqlite" not in url  # the value lives in a file beside the database
    stored = [f.read_bytes() for f in files]
    mine, _ = engine.read(KEY2, own=True)  # as a callback that only reads the store
    base, record = engine.read(KEY2)  # as a callback that also writes it (keeps its base)
    for frame in (mine, base):
        frame.iloc[0, 0] = -1.0
        frame["i"] += 1
    assert_frame_equal(engine.read(KEY2, own=True)[0], df)
    assert_frame_equal(codec.decode(record.value), df)  # the writer's merge base
    assert [f.read_bytes() for f in files] == stored


# ---- the decoded-value cache (decision 62) --------------------------------------------------


def small_frame(rows: int = 1000, start: float = 0.0):
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    return pd.DataFrame(
        {
            "f": start + np.arange(rows) * 0.5,
            "i": np.arange(rows),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(rows), unit="s"),
            "I": pd.array(np.where(np.arange(rows) % 3 == 0, None, 1), dtype="Int64"),
        }
    )


@pytest.fixture
def counted(tmp_path):
    """An engine on SQLite that counts how often it decodes a record."""
    engine = StashEngine(open_backend(f"sqlite:///{tmp_path}/stash.db"))
    decode, engine.decodes = engine.decode, 0

    def counting(*args, **kwargs):
        engine.decodes += 1
        return decode(*args, **kwargs)

    engine.decode = counting
    return engine


def test_small_frames_are_decoded_once_and_every_read_gets_its_own_copy(counted):
    from pandas.testing import assert_frame_equal

    df = small_frame()
    counted.commit(KEY2, Replace(df), ttl=60)
    first, _ = counted.read(KEY2, own=True)
    second, record = counted.read(KEY2)
    assert counted.decodes == 1 and len(counted.cache) == 1
    for out in (first, second):  # changed in place, every way a callback may
        out.iloc[0] = out.iloc[1]
        out["f"] += 1
        out.loc[out["i"] > 2, "I"] = -1
        out.columns.name, out.index.name = "mine", "rows"
    third, _ = counted.read(KEY2)
    assert_frame_equal(third, df)
    assert third.columns.name is None and third.index.name is None
    assert counted.decodes == 1


def test_a_deleted_or_expired_store_is_never_served_from_the_cache(counted, tmp_path):
    df = small_frame()
    counted.commit(KEY2, Replace(df), ttl=60)
    counted.read(KEY2)
    assert counted.delete(KEY2)
    assert counted.read(KEY2, initial=lambda: "gone") == ("gone", None)
    # Deleted behind the engine's back (another worker, the sweep): the backend says so.
    counted.commit(KEY2, Replace(df), ttl=60)
    counted.read(KEY2)
    assert counted.backend.delete(KEY2)
    assert counted.read(KEY2) == (None, None)
    # Expired: the backend no longer has it, whatever the cache kept.
    counted.commit(KEY2, Replace(df), ttl=0.3)
    assert counted.read(KEY2)[1] is not None
    deadline = time.monotonic() + 10
    while counted.backend.read(KEY2) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counted.read(KEY2) == (None, None)


def test_a_store_written_again_at_the_same_version_is_read_as_written(counted):
    """A key deleted and written again starts at version 1 again: the cache compares the
    bytes the backend holds, so it never serves the old value under the same version."""
    from pandas.testing import assert_frame_equal

    counted.commit(KEY2, Replace(small_frame(start=0)), ttl=60)
    assert counted.read(KEY2)[1].version == 1
    counted.backend.delete(KEY2)  # not through the engine: another worker did it
    new = small_frame(start=1000)
    counted.commit(KEY2, Replace(new), ttl=60)
    value, record = counted.read(KEY2)
    assert record.version == 1
    assert_frame_equal(value, new)


def test_the_cache_keeps_only_small_plain_values_within_its_bound(tmp_path):
    pd = pytest.importorskip("pandas")
    from dash_stash.engine.cache import DecodedCache

    size = len(codec.encode(small_frame()).data)
    engine = StashEngine(
        open_backend(f"sqlite:///{tmp_path}/stash.db"),
        cache=DecodedCache(max_bytes=5 * size),  # two records and their frames (2x each)
    )
    keys = [StoreKey("ns", "s", "local", f"k{n}") for n in range(4)]
    for n, key in enumerate(keys):
        engine.commit(key, Replace(small_frame(start=n)), ttl=60)
        engine.read(key)
    assert len(engine.cache) == 2  # the least recently read went first
    others = {
        "strings": pd.DataFrame({"s": ["a", "b"]}),  # Python objects: a copy would share them
        "categories": pd.DataFrame({"c": pd.Categorical(["x", "y"])}),
        "records": small_frame(10).to_dict("records"),  # JSON: orjson.loads is the floor
        "large": small_frame(200_000),  # a file, read as a copy-on-write mapping
    }
    for name, value in others.items():
        key = StoreKey("ns", "s", "local", name)
        engine.commit(key, Replace(value), ttl=60)
        engine.read(key)
        engine.read(key)
    assert len(engine.cache) == 2


def test_copier_copies_only_what_shares_nothing():
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")

    df = small_frame(10)
    copy = codec.copier(df)
    assert copy is not None and copy() is not df and not np.shares_memory(copy()["f"], df["f"])
    assert codec.copier(np.arange(3)) is not None
    for value in (
        pd.DataFrame({"o": [[1], [2]]}),  # cells that are lists: shared by a deep copy
        pd.DataFrame({"s": ["a"]}),
        pd.DataFrame({"x": [1]}, index=pd.MultiIndex.from_tuples([(1, 2)])),
        pd.DataFrame({("a", "b"): [1]}),
        pd.Series([1.0]),
        np.array([object()], dtype=object),
        {"df": df},
        [1, 2],
    ):
        assert codec.copier(value) is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_process_forked_while_the_cache_is_in_use_still_reads(counted):
    """A background job's process may be forked while a request thread holds the cache."""
    counted.commit(KEY2, Replace(small_frame()), ttl=60)
    counted.read(KEY2)
    with counted.cache._lock:  # as another thread in the middle of a read
        pid = os.fork()
        if pid == 0:  # the child: read, and say by the exit code what it got
            try:
                value, _ = counted.read(KEY2)
                os._exit(0 if len(value) == 1000 else 1)
            except BaseException:
                os._exit(2)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if done == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done != (0, 0), "the forked process hung on the cache's lock"
    assert os.waitstatus_to_exitcode(done[1]) == 0
