"""What the per-session quota check costs a callback write: `Backend.usage` (run before every
store commit of a callback) next to the commit itself, for sessions holding more and more stores.

    .venv/bin/python benchmarks/quota.py [--redis redis://127.0.0.1:6379/0] [--repeat 200]

Each row: a session with N live stores of ~100 bytes; "usage" is one quota look-up, "commit"
one small replace on one of its keys, both as medians over `--repeat` runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from dash_stash import codec  # noqa: E402
from dash_stash.backends import Backend, StoreKey, open_backend  # noqa: E402

SIZES = (1, 10, 100, 1000)


def median_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(name: str, backend: Backend, repeat: int) -> list[list]:
    rows = []
    value = codec.encode({"text": "x" * 80})
    for n in SIZES:
        session = f"s{n}"
        keys = [StoreKey("bench", session, f"page-{i}", "store") for i in range(n)]
        for key in keys:
            backend.commit(key, value, ttl=3600)
        sizes = median_ms(lambda k=keys[0]: backend.usage(k), repeat)
        commit = median_ms(lambda k=keys[0]: backend.commit(k, value, ttl=3600), repeat)
        rows.append([name, n, f"{sizes:.3f}", f"{commit:.3f}", f"{sizes / commit:.2f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", help="also measure on this Redis URL (its db is used)")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = measure("sqlite", open_backend(f"sqlite:///{folder}/q.db"), args.repeat)
    if args.redis:
        rows += measure("redis", open_backend(args.redis), args.repeat)
    print(machine())
    headers = ["backend", "stores in session", "usage ms", "commit ms", "usage/commit"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
