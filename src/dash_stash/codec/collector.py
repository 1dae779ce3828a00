"""JSON decoded with Python's cyclic garbage collector paused (decision 73).

`orjson.loads` of a list of records makes one dict per row. The collector counts every dict it
allocates and runs a collection every 700: about 130 collections of the youngest generation
and 12 of the middle one while 100,000 rows are decoded (2-3 % of the decode in the
benchmark's server), and now and then a full collection over every object in the process
(90-120 ms for a Dash server's 110,000 tracked objects on a busy 2-core machine; one that fell
inside a 10,000-row read took 228 ms, against a 15 ms floor).
None of them can free anything the decode makes: JSON has no reference cycles. Paused, the
decode's allocations still count, so the collector runs once just after it, not a hundred
times during it.

`gc.disable()` is process-wide, so the pause is shared by every thread decoding at the same
time: the first one in pauses the collector (only if it is enabled), the last one out turns
it back on (only if it was the one that paused it). Reads that keep overlapping must not keep
the collector off for good: a decode that ends after the pause has lasted `LONGEST` seconds
turns it back on even while others decode, and nobody pauses it again until none is left.
An app that disabled the collector itself keeps it disabled. A process forked during a
pause (a background job's worker) starts with the collector on, as the parent had it before
the pause. Not covered: `gc.disable()` called in another thread while a decode runs
(milliseconds) is undone when the decode ends; the collector then simply runs, as by default.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from collections.abc import Iterator

LONGEST = 1.0  # seconds: a pause is ended by the first decode to end after this long

_lock = threading.Lock()
_inside = 0  # threads decoding now
_paused = False  # did the first of them disable the collector (it was enabled then)?
_since = 0.0  # when it did (time.monotonic())


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Run the block with the collector paused, unless something else already paused it."""
    global _inside, _paused, _since
    with _lock:
        if _inside == 0 and gc.isenabled():
            gc.disable()
            _paused, _since = True, time.monotonic()
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _paused and (_inside == 0 or time.monotonic() - _since >= LONGEST):
                _paused = False
                gc.enable()


def _after_fork() -> None:
    """In a child forked during a pause, the threads inside it do not exist: turn the
    collector back on if the pause turned it off."""
    global _lock, _inside, _paused
    _lock = threading.Lock()
    if _paused:
        gc.enable()
    _inside, _paused = 0, False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
