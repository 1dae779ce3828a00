"""The byte layout of a typed value: binary parts first, then a JSON header that points at them.

    b"DSTYPED1"                       magic and format version (8 bytes)
    blob 0, blob 1, ...               binary parts, each starting on an 8-byte boundary
    header                            orjson: {"v": tree, "b": [[offset, length], ...]}
    u64 little-endian                 length of the header

The header goes last so that Arrow and numpy write straight into one growing buffer, without
knowing the sizes in advance and without a second copy. In ``tree`` every typed object is a
placeholder ``{"__ds__": "<tag>", ...}``; a blob is referenced by its index (``"b": 0``).
Decoding reads the header, checks every span lies inside the record, and never guesses.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import Any, BinaryIO

import orjson

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
    """Collects the binary parts of one value in a single buffer."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.buf.write(MAGIC)
        self.spans: list[list[int]] = []

    def add(self, write: Callable[[BinaryIO], Any]) -> int:
        """Let `write` append one blob to the buffer; return its index for the header."""
        pad = -self.buf.tell() % ALIGN
        if pad:
            self.buf.write(b"\0" * pad)
        start = self.buf.tell()
        write(self.buf)
        self.spans.append([start, self.buf.tell() - start])
        return len(self.spans) - 1

    def add_bytes(self, data: bytes | bytearray | memoryview) -> int:
        return self.add(lambda f: f.write(data))

    def finish(self, tree: Any) -> bytes:
        header = orjson.dumps({"v": tree, "b": self.spans})
        self.buf.write(header)
        self.buf.write(_LEN.pack(len(header)))
        return self.buf.getvalue()  # CPython hands over its buffer: no copy


class Reader:
    """Random access to the blobs of one record; every span is checked against the record."""

    def __init__(self, data: bytes) -> None:
        if len(data) < len(MAGIC) + _LEN.size or not data.startswith(MAGIC):
            raise BadRecord("not a dash-stash typed record (bad magic bytes)")
        (size,) = _LEN.unpack_from(data, len(data) - _LEN.size)
        end = len(data) - _LEN.size
        if size > end - len(MAGIC):
            raise BadRecord("the header length points outside the record")
        self.view = memoryview(data)
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
