"""Many writers on one key, in real processes and threads: the engine's no-lost-update check.

Run by tests through `hammer(url, ...)`; each worker process opens its own backend from the URL.
"""

from __future__ import annotations

import multiprocessing
import threading

from dash import Patch

from dash_stash.backends import StoreKey, open_backend
from dash_stash.engine import Merge, PatchWrite, StashEngine

KEY = StoreKey("stress", "session", "local", "shared")
TTL = 3600.0


def _patch_worker(engine: StashEngine, n: int) -> None:
    for i in range(n):
        p = Patch()
        p["items"].append(i)
        engine.commit(
            KEY,
            PatchWrite(p.to_plotly_json()["operations"]),
            ttl=TTL,
            writer="t",
            initial=lambda: {"items": [], "count": 0},
        )
        p = Patch()
        p["count"] += 1
        engine.commit(
            KEY,
            PatchWrite(p.to_plotly_json()["operations"]),
            ttl=TTL,
            writer="t",
            initial=lambda: {"items": [], "count": 0},
        )


def _merge_worker(engine: StashEngine, n: int, name: str) -> None:
    for i in range(n):
        base, record = engine.read(KEY, ttl=TTL, initial=lambda: {})
        version = record.version if record else 0
        ours = dict(base)
        ours[name] = i + 1
        engine.commit(
            KEY,
            Merge(lambda base=base: dict(base), version, ours),
            ttl=TTL,
            writer=name,
            initial=lambda: {},
        )


def _process(url: str, threads: int, n: int, mode: str, index: int) -> None:
    engine = StashEngine(open_backend(url))
    errors: list[BaseException] = []

    def run(t: int) -> None:
        try:
            if mode == "patch":
                _patch_worker(engine, n)
            else:
                _merge_worker(engine, n, f"p{index}t{t}")
        except BaseException as exc:  # reported by the parent through the exit code
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]


def hammer(url: str, processes: int, threads: int, n: int, mode: str) -> None:
    """Start `processes` x `threads` writers doing `n` writes each; fail if any of them failed."""
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_process, args=(url, threads, n, mode, i)) for i in range(processes)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
    codes = [p.exitcode for p in procs]
    assert codes == [0] * processes, f"worker processes failed: exit codes {codes}"
