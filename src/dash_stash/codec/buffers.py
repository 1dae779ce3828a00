"""Fresh byte buffers for large values on their way into and out of storage.

Filling new memory costs mostly page faults: 80 MB in 4 KiB pages is 20,000 faults, which on
our 2-core machine took 3-5x longer than copying the bytes. numpy asks the kernel for
transparent huge pages on large allocations (``madvise``), so a numpy-backed buffer of the
same size fills at memory speed. numpy is optional: without it we fall back to a bytearray.

A writable buffer means "yours alone": a backend hands one out only for bytes it has just
read for this caller (see `codec.decode(own=True)`); everything shared is read-only.
"""

from __future__ import annotations

import os
from typing import Any

LARGE = 1 << 20  # from this size on, a buffer comes from numpy (huge pages) if it is installed

_numpy: Any = None


def allocate(size: int) -> memoryview:
    """A new writable buffer of `size` bytes (contents undefined), format ``B``."""
    if size >= LARGE:
        np = _load_numpy()
        if np is not None:
            return memoryview(np.empty(size, np.uint8))
    return memoryview(bytearray(size))


def _load_numpy() -> Any:
    global _numpy
    if _numpy is None:
        try:
            import numpy
        except ImportError:  # the numpy extra is optional
            numpy = False
        _numpy = numpy
    return _numpy or None


def read_file(path: Any) -> memoryview:
    """The whole file at `path` in a fresh writable buffer (one copy, from the page cache).

    The file is opened once and read through that descriptor, so unlinking it meanwhile
    (a commit pruning its version) cannot cut the read short on POSIX systems."""
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        buf = allocate(size)
        done = 0
        while done < size:
            n = f.readinto(buf[done:])
            if not n:
                raise OSError(f"{path} ended at byte {done} of {size}")
            done += n
    return buf
