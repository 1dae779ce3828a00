"""Turning values into bytes and back: JSON through orjson, typed values tagged. Never pickle.

`registry` has the two codecs and the rules for choosing one, `typed` the exact encoding of
non-JSON values, `envelope` its byte layout, `arrow` tables, arrays and pandas (it registers
them with `typed`), `compression` the setting for large ones, `collector` the pause of the
garbage collector that JSON is decoded in. Imports go one way:
registry -> arrow -> typed -> envelope.
"""

from .compression import Compression
from .registry import (
    JSON,
    TYPED,
    Encoded,
    Streamed,
    browser_json,
    copier,
    decode,
    encode,
    equal,
    same,
)

__all__ = [
    "JSON",
    "Compression",
    "Encoded",
    "Streamed",
    "TYPED",
    "browser_json",
    "copier",
    "decode",
    "encode",
    "equal",
    "same",
]
