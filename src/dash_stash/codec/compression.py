"""Compression of large tables and arrays: a setting of one stash, off by default.

On a local disk or the page cache lz4 cost more time than it saved at every size we measured
(a 1M-row mixed frame: 571 against 28 ms to encode, 37 against 16 ms to decode; see
docs/benchmarks.md), and a compressed column can no longer be handed to pandas without a
copy. With ``dash_stash.init(app, compression="lz4" | "zstd")`` (worth it when bytes cost more
than CPU: Redis over a network, disk space) it is used for a table or array of at least
`Compression.above` bytes (1 MiB), and only when a 256 KiB sample shrinks to 80 % or less, so
random floats are not squeezed for nothing. Arrow and polars compress inside their IPC
streams; numpy arrays use the ``lz4``/``zstandard`` packages (``dash-stash[compression]``).

Reading never needs the setting: a compressed record names its codec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .envelope import BadRecord

SAMPLE = 1 << 18  # bytes of a value tried before deciding
WORTH = 0.8  # compress only when the sample shrinks to this fraction or less
CODECS = ("lz4", "zstd")


@dataclass(frozen=True)
class Compression:
    """How one stash compresses large values: `codec` ("lz4", "zstd" or None, the default)
    for tables and arrays of at least `above` bytes."""

    codec: str | None = None
    above: int = 1 << 20

    def __post_init__(self) -> None:
        if self.codec not in (*CODECS, None):
            raise ValueError(f"compression must be 'lz4', 'zstd' or None, not {self.codec!r}")

    def wanted(self, size: int) -> bool:
        """Is a value of `size` bytes large enough to try?"""
        return self.codec is not None and size >= self.above

    def pays(self, plain: int, squeezed: int) -> bool:
        """Did a sample of `plain` bytes shrink enough (to `squeezed`) to compress the rest?"""
        return squeezed <= WORTH * plain


OFF = Compression()


def squeeze(raw: memoryview, setting: Compression) -> tuple[str | None, Any]:
    """`raw` compressed when `setting` asks and a sample shows it pays: (codec, bytes);
    else (None, raw). Without the codec's package installed, left as it is."""
    if not setting.wanted(len(raw)):
        return None, raw
    try:
        if setting.codec == "lz4":
            import lz4.frame

            compress = lz4.frame.compress
        else:
            import zstandard

            compress = zstandard.ZstdCompressor(level=3).compress
    except ImportError:  # compression is an optional extra
        return None, raw
    if not setting.pays(SAMPLE, len(compress(raw[:SAMPLE]))):
        return None, raw
    return setting.codec, compress(raw)


def unsqueeze(codec: str, raw: memoryview) -> Any:
    """The bytes `squeeze` compressed with `codec`."""
    try:
        if codec == "lz4":
            import lz4.frame

            return lz4.frame.decompress(raw, return_bytearray=True)
        if codec == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompress(raw)
    except ImportError:
        raise BadRecord(
            f"the record is compressed with {codec}: pip install 'dash-stash[compression]'"
        ) from None
    raise BadRecord(f"unknown compression {codec!r}")
