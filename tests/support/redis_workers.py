"""Writer processes for the Redis concurrency tests, importable by `spawn` children.

Each thread commits `n` times through the backend; every commit increments `count` and
appends "<process>.<thread>.<i>" to `items`, so a lost or doubled update shows in the result.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any

from dash_stash.backends import Record, StoreKey, open_backend
from dash_stash.codec import Encoded, decode, encode

KEY = StoreKey("stress", "session", "local", "shared")
TTL = 3600.0


def bump(tag: str, calls: list[int]) -> Any:
    """The update function: the Patch-style `count += 1` and `items.append(tag)`, in Python.
    `calls` counts how often it ran: once per attempt of the optimistic commit."""

    def update(latest: Record | None) -> Encoded:
        calls[0] += 1
        value = decode(latest.value) if latest else {"count": 0, "items": []}
        value["count"] += 1
        value["items"].append(tag)
        return encode(value)

    return update


def writer_process(url: str, index: int, threads: int, n: int, results: Any) -> None:
    backend = open_backend(url)
    errors: list[BaseException] = []
    attempts: list[int] = []

    def run(t: int) -> None:
        try:
            for i in range(n):
                calls = [0]
                backend.commit(KEY, bump(f"{index}.{t}.{i}", calls), ttl=TTL, writer=f"p{index}")
                attempts.append(calls[0])
        except BaseException as exc:  # reported to the parent below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    backend.close()
    results.put((index, attempts, [repr(e) for e in errors]))


def hammer(url: str, processes: int, threads: int, n: int) -> dict[str, Any]:
    """Run `processes` x `threads` writers of `n` commits each; return timing and attempts."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [
        ctx.Process(target=writer_process, args=(url, i, threads, n, results))
        for i in range(processes)
    ]
    start = time.monotonic()
    for p in procs:
        p.start()
    reports = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    elapsed = time.monotonic() - start
    errors = [e for _, _, errs in reports for e in errs]
    assert not errors, f"writers failed: {errors[:3]}"
    assert [p.exitcode for p in procs] == [0] * processes
    attempts = sorted(a for _, per, _ in reports for a in per)
    return {
        "seconds": round(elapsed, 1),
        "commits": len(attempts),
        "attempts": sum(attempts),
        "max_attempts": attempts[-1],
        "p99_attempts": attempts[int(len(attempts) * 0.99)],
    }


def check_final(url: str, processes: int, threads: int, n: int) -> Record:
    """Exact counts: every commit is in the value once, each thread's in its own order."""
    backend = open_backend(url)
    try:
        record = backend.read(KEY)
    finally:
        backend.close()
    assert record is not None
    value = decode(record.value)
    total = processes * threads * n
    assert value["count"] == total
    assert record.version == total
    assert len(value["items"]) == total
    seen: dict[tuple[str, str], list[int]] = {}
    for item in value["items"]:
        p, t, i = item.split(".")
        seen.setdefault((p, t), []).append(int(i))
    assert len(seen) == processes * threads
    assert all(order == list(range(n)) for order in seen.values())
    return record
