"""The byte layout of a typed value: binary parts first, then a JSON header that points at them.

    b"DSTYPED1"                       magic and format version (8 bytes)
    blob 0, blob 1, ...               binary parts, each starting on an 8-byte boundary
    header                            orjson: {"v": tree, "b": [[offset, length], ...]}
    u64 little-endian                 length of the header

The header goes last: it holds the spans, known only once every part has reserved its size.
Every part is then written once, straight into its place in one buffer (see `buffers`). In
``tree`` every typed object is a placeholder ``{"__ds__": "<tag>", ...}``; a blob is
referenced by its index (``"b": 0``).
Decoding reads the header, checks every span lies inside the record, and never guesses.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import orjson

from .buffers import LARGE, allocate

MAGIC = b"DSTYPED1"
TAG = "__ds__"
ALIGN = 8
_LEN = struct.Struct("<Q")


class Unstorable(Exception):
    """Raised inside the encoder at the first object it cannot store; `encode` adds the path."""

    def __init__(self, obj: Any, reason: str = "") -> None:
        super().__init__(reason)
        self.obj = obj
        self.reason = reason


class BadRecord(Exception):
    """Raised inside the decoder; `decode` turns it into `CorruptRecordError`."""


class Writer:
    """Collects the binary parts of one value, then lays them out in one new buffer.

    Each part reserves its size first and is written by its `fill` function straight into
    its place at `finish`: Arrow writes its IPC stream once, into the final buffer.
    """

    def __init__(self) -> None:
        self.size = len(MAGIC)
        self.spans: list[list[int]] = []
        self.fills: list[Callable[[memoryview], Any]] = []

    def add(self, size: int, fill: Callable[[memoryview], Any]) -> int:
        """Reserve `size` bytes for one blob that `fill` writes into the view it is given at
        `finish` (the part must still be there then); return its index for the header."""
        start = self.size + (-self.size % ALIGN)
        self.spans.append([start, size])
        self.fills.append(fill)
        self.size = start + size
        return len(self.spans) - 1

    def add_bytes(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        return self.add(len(view), lambda out: out.__setitem__(slice(None), view))

    def finish(self, tree: Any) -> bytes | memoryview:
        """The record: bytes when small, else a read-only view of one large buffer."""
        header = orjson.dumps({"v": tree, "b": self.spans})
        total = self.size + len(header) + _LEN.size
        buf = allocate(total)
        buf[: len(MAGIC)] = MAGIC
        end = len(MAGIC)
        for (start, size), fill in zip(self.spans, self.fills, strict=True):
            buf[end:start] = bytes(start - end)  # padding: zeros, never stale memory
            fill(buf[start : start + size])
            end = start + size
        buf[end : end + len(header)] = header
        _LEN.pack_into(buf, end + len(header), len(header))
        return bytes(buf) if total < LARGE else buf.toreadonly()


class Reader:
    """Random access to the blobs of one record; every span is checked against the record."""

    def __init__(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        if len(view) < len(MAGIC) + _LEN.size or view[: len(MAGIC)] != MAGIC:
            raise BadRecord("not a dash-stash typed record (bad magic bytes)")
        (size,) = _LEN.unpack_from(view, len(view) - _LEN.size)
        end = len(view) - _LEN.size
        if size > end - len(MAGIC):
            raise BadRecord("the header length points outside the record")
        self.view = view  # writable only when the caller gave the buffer up (see typed.load)
        try:
            header = orjson.loads(self.view[end - size : end])
        except orjson.JSONDecodeError as exc:
            raise BadRecord(f"the header is not valid JSON: {exc}") from None
        if (
            not isinstance(header, dict)
            or "v" not in header
            or not isinstance(header.get("b"), list)
        ):
            raise BadRecord("the header lacks the value or the blob table")
        self.tree = header["v"]
        self.spans = header["b"]
        for span in self.spans:
            if not (
                isinstance(span, list)
                and len(span) == 2
                and all(type(n) is int for n in span)
                and len(MAGIC) <= span[0]
                and span[1] >= 0
                and span[0] + span[1] <= end - size
            ):
                raise BadRecord(f"blob span {span!r} lies outside the record")

    def blob(self, index: Any) -> memoryview:
        if type(index) is not int or not 0 <= index < len(self.spans):
            raise BadRecord(f"no blob number {index!r}")
        start, length = self.spans[index]
        return self.view[start : start + length]
