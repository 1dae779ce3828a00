"""Commits per second: small Patch commits through dash-stash next to a raw loop.

    .venv/bin/python benchmarks/engine.py [--seconds 3] [--redis redis://127.0.0.1:6379/0]
                                          [--profile]

Every commit is `p["count"] += 1` on a small dict, all writers on one key. dash-stash runs
`StashEngine.commit(key, PatchWrite(ops))`; the raw loop does by hand what a careful app
would: on SQLite, BEGIN IMMEDIATE, read the row, orjson-decode, increment, encode, upsert,
COMMIT, with the same settings as the backend (WAL, synchronous=NORMAL, busy timeout); on
Redis, read the value and its version, then a Lua script that writes only if the version is
unchanged (else back off and retry, as the dash-stash backend does). Each writer is its own
process (spawn) with its own connection. At the end the counter must equal the number of
commits: the "counter" column says so.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import itertools
import multiprocessing as mp
import pstats
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

INITIAL = {"count": 0, "name": "bench", "tags": ["a", "b", "c"], "ratio": 0.5}
KEY = ("bench", "session", "local", "counter")
BUSY_TIMEOUT = 60.0

# KEYS: the hash.  ARGV: expected version, new value.  1 if written, 0 if someone was first.
CAS_SCRIPT = """
local v = redis.call('HGET', KEYS[1], 'version') or '0'
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'value', ARGV[2], 'version', tonumber(v) + 1)
return 1
"""


# -- one commit of each kind; setup returns (commit, read_count) --------------------------


def raw_sqlite(path: str) -> tuple[Callable[[], None], Callable[[], int]]:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS kv "
        "(k TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL)"
    )

    def commit() -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT value, version FROM kv WHERE k = ?", ("counter",)).fetchone()
            doc, version = (orjson.loads(row[0]), row[1]) if row else (dict(INITIAL), 0)
            doc["count"] += 1
            conn.execute(
                "INSERT INTO kv (k, value, version) VALUES (?, ?, ?) ON CONFLICT (k) "
                "DO UPDATE SET value = excluded.value, version = excluded.version",
                ("counter", orjson.dumps(doc), version + 1),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def count() -> int:
        row = conn.execute("SELECT value FROM kv WHERE k = ?", ("counter",)).fetchone()
        return orjson.loads(row[0])["count"] if row else 0

    return commit, count


def stash(url: str) -> tuple[Callable[[], None], Callable[[], int]]:
    from dash import Patch

    from dash_stash import StoreKey, open_backend
    from dash_stash.engine import PatchWrite, StashEngine
    from dash_stash.engine.patch import patch_operations

    engine = StashEngine(open_backend(url))
    key = StoreKey(*KEY)
    p = Patch()
    p["count"] += 1
    write = PatchWrite(patch_operations(p))

    def commit() -> None:
        engine.commit(key, write, ttl=3600.0, initial=lambda: dict(INITIAL))

    def count() -> int:
        value, _ = engine.read(key)
        return value["count"] if value else 0

    return commit, count


def raw_redis(url: str) -> tuple[Callable[[], None], Callable[[], int]]:
    import redis

    client = redis.Redis.from_url(url)
    cas = client.register_script(CAS_SCRIPT)
    name = "bench:raw:counter"

    def commit() -> None:
        for attempt in itertools.count():
            value, version = client.hmget(name, "value", "version")
            doc = orjson.loads(value) if value else dict(INITIAL)
            doc["count"] += 1
            if cas(keys=[name], args=[int(version or 0), orjson.dumps(doc)]):
                return
            # the same jittered backoff as the dash-stash backend; without it writers livelock
            time.sleep(random.uniform(0, min(0.025, 0.0005 * 2**attempt)))

    def count() -> int:
        value = client.hget(name, "value")
        return orjson.loads(value)["count"] if value else 0

    return commit, count


KINDS = {
    "raw sqlite3": raw_sqlite,
    "dash-stash sqlite": stash,
    "raw redis-py": raw_redis,
    "dash-stash redis": stash,
}


def worker(kind: str, target: str, seconds: float, barrier, out) -> None:
    commit, _ = KINDS[kind](target)
    commit()  # connect and warm up before the clock starts
    barrier.wait()
    n, deadline = 0, time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            commit()
            n += 1
    except Exception as exc:  # reported in the table; the other writers go on
        out.put((n, f"{type(exc).__name__}: {exc}"))
        return
    out.put((n, ""))


def measure(kind: str, target: str, processes: int, seconds: float) -> tuple[float, str]:
    """Commits per second of `processes` writers on one key, and a note: "exact" if the
    counter equals the number of commits (nothing lost), else what went wrong."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(processes + 1), ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(kind, target, seconds, barrier, out))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)
    start = time.monotonic()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    elapsed = time.monotonic() - start
    for p in procs:
        p.join()
    commits = sum(n for n, _ in results)
    errors = [e for _, e in results if e]
    _, read_count = KINDS[kind](target)
    note = "exact" if read_count() == commits + processes else "LOST UPDATES"
    if errors:
        note += f"; {len(errors)} of {processes} writers failed: {errors[0][:100]}"
    return commits / elapsed, note


def reset_redis(url: str) -> None:
    """Remove what an earlier case left on Redis: both counters start from scratch."""
    import redis

    client = redis.Redis.from_url(url)
    client.delete("bench:raw:counter", *client.scan_iter(f"ds:{{{KEY[0]}|{KEY[1]}}}:*"))


def profile(url: str, seconds: float) -> None:
    """cProfile one dash-stash writer; print where its time goes."""
    commit, _ = stash(url)
    commit()
    prof = cProfile.Profile()
    n, deadline = 0, time.monotonic() + seconds
    prof.enable()
    while time.monotonic() < deadline:
        commit()
        n += 1
    prof.disable()
    print(f"\ncProfile of {n} dash-stash commits in {seconds:g} s (1 process):")
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--redis", metavar="URL", help="also measure Redis at this URL")
    parser.add_argument("--profile", action="store_true", help="cProfile dash-stash on SQLite")
    args = parser.parse_args()

    print(machine())
    tmp = tempfile.TemporaryDirectory(prefix="dash-stash-bench-")
    cases = []
    for n in args.processes:
        cases.append(("raw sqlite3", f"{tmp.name}/raw-{n}.db", n))
        cases.append(("dash-stash sqlite", f"sqlite:///{tmp.name}/stash-{n}.db", n))
    if args.redis:
        if importlib.util.find_spec("dash_stash.backends.redis") is None:
            print("Redis: dash_stash.backends.redis is not available here; skipped")
        else:
            for n in args.processes:
                cases.append(("raw redis-py", args.redis, n))
                cases.append(("dash-stash redis", args.redis, n))

    rows, raw_rate = [], {}
    for kind, target, n in cases:
        if "redis" in kind:
            reset_redis(target)
        rate, note = measure(kind, target, n, args.seconds)
        backend = "redis" if "redis" in kind else "sqlite"
        if kind.startswith("raw"):
            raw_rate[backend, n] = rate
        ratio = rate / raw_rate[backend, n]
        rows.append((kind, n, f"{rate:,.0f}", f"{ratio:.2f}", note))
        print(f"  {kind}, {n} process(es): {rate:,.0f} commits/s", flush=True)
    print()
    print(table(["backend", "processes", "commits/s", "ratio to raw", "counter"], rows))
    if args.profile:
        profile(f"sqlite:///{tmp.name}/profile.db", args.seconds)
    tmp.cleanup()


if __name__ == "__main__":
    main()
