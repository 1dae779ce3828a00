"""The byte layout of a typed value: binary parts first, then a JSON header that points at them.

    b"DSTYPED1"                       magic and format version (8 bytes)
    blob 0, blob 1, ...               binary parts, each starting on an 8-byte boundary
    header                            orjson: {"v": tree, "b": [[offset, length], ...]}
    u64 little-endian                 length of the header

The header goes last: it holds the spans, known only once every part has reserved its size.
Every part is then written once, straight where it goes: its place in one buffer (see
`buffers`), or for a large record a value file, in order (`Layout`). In
``tree`` every typed object is a placeholder ``{"__ds__": "<tag>", ...}``; a blob is
referenced by its index (``"b": 0``).
Decoding reads the header, checks every span lies inside the record, and never guesses.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any

import orjson

from .buffers import allocate

STREAMED = 1 << 16  # from this size on, a record is a `Layout`, written where it goes

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
    """Collects the binary parts of one value, then lays them out (`finish`).

    Each part reserves its size first; it is written later by its `fill` function straight
    into its place in one buffer, or by its `stream` function straight to a file-like sink
    (see `Layout`): Arrow writes its IPC stream once, where it goes.
    """

    def __init__(self) -> None:
        self.size = len(MAGIC)
        self.spans: list[list[int]] = []
        self.fills: list[Callable[[memoryview], Any]] = []
        self.streams: list[Callable[[Any], Any]] = []

    def add(
        self,
        size: int,
        fill: Callable[[memoryview], Any],
        stream: Callable[[Any], Any] | None = None,
    ) -> int:
        """Reserve `size` bytes for one blob that `fill` writes into the view it is given, or
        `stream` to the sink it is given (`sink.write(bytes-like)`), both exactly `size` bytes
        and as often as asked (the part must stay alive till then); return its index for the
        header. Without `stream`, the part is filled into a buffer of its own and written."""
        start = self.size + (-self.size % ALIGN)
        self.spans.append([start, size])
        self.fills.append(fill)
        self.streams.append(stream or functools.partial(_stream_filled, size, fill))
        self.size = start + size
        return len(self.spans) - 1

    def add_bytes(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        return self.add(
            len(view), lambda out: out.__setitem__(slice(None), view), lambda sink: sink.write(view)
        )

    def finish(self, tree: Any) -> bytes | Layout:
        """The record: bytes when small, else its `Layout`, whose bytes are written only where
        they are needed (a file, a comparison with one, or one buffer)."""
        header = orjson.dumps({"v": tree, "b": self.spans})
        layout = Layout(self.size, self.spans, self.fills, self.streams, header)
        if layout.size >= STREAMED:
            return layout
        buf = memoryview(bytearray(layout.size))
        layout.fill(buf)
        return bytes(buf)


def _stream_filled(size: int, fill: Callable[[memoryview], Any], sink: Any) -> None:
    buf = allocate(size)
    fill(buf)
    sink.write(buf)


class Layout:
    """A large record not laid out yet: its size is known, and its bytes can be written
    straight to a sink (a value file, a comparison with the stored one) or once into one
    buffer (`fill`). So a write of an 80 MB table never needs an 80 MB buffer: Arrow writes
    each column from the frame's own memory to the file.

    The parts refer to the writer's value (a frame's columns, without a copy): a layout is
    used inside the commit that made it, never kept (`registry.Streamed`)."""

    def __init__(
        self,
        end: int,
        spans: list[list[int]],
        fills: list[Callable[[memoryview], Any]],
        streams: list[Callable[[Any], Any]],
        header: bytes,
    ) -> None:
        self.spans, self.fills, self.streams = spans, fills, streams
        self.end = end  # where the blobs end and the header starts
        self.header = header
        self.size = end + len(header) + _LEN.size

    def fill(self, buf: memoryview) -> None:
        """Write the record into `buf`, a new buffer of `size` bytes."""
        buf[: len(MAGIC)] = MAGIC
        end = len(MAGIC)
        for (start, size), fill in zip(self.spans, self.fills, strict=True):
            buf[end:start] = bytes(start - end)  # padding: zeros, never stale memory
            fill(buf[start : start + size])
            end = start + size
        buf[end : end + len(self.header)] = self.header
        _LEN.pack_into(buf, end + len(self.header), len(self.header))

    def write(self, sink: Any) -> None:
        """Write the record to `sink` (`sink.write(bytes-like)`), part after part; a part that
        writes another size than it reserved raises `RuntimeError` (nothing must be kept)."""
        out = _Counted(sink)
        out.write(MAGIC)
        for (start, size), stream in zip(self.spans, self.streams, strict=True):
            out.write(bytes(start - out.count))
            stream(out)
            if out.count != start + size:
                raise RuntimeError(
                    f"a blob of the record wrote {out.count - start} bytes, not the {size} it "
                    "reserved (was the value changed while it was being stored?)"
                )
        out.write(self.header)
        out.write(_LEN.pack(len(self.header)))


class _Counted:
    """A sink that counts what goes through it."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.count = 0

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        self.sink.write(data)
        self.count += size
        return size

    def flush(self) -> None:  # what a file-like sink has, for Arrow's writer
        pass

    @property
    def closed(self) -> bool:
        return False


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
