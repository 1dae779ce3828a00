"""Turning values into bytes and back: JSON through orjson, typed values tagged. Never pickle.

`registry` has the two codecs and the rules for choosing one, `typed` the exact encoding of
non-JSON values, `envelope` its byte layout, `arrow` tables and arrays.
"""

from .arrow import configure as configure_compression
from .registry import Encoded, browser_json, decode, encode, equal, same

__all__ = [
    "Encoded",
    "browser_json",
    "configure_compression",
    "decode",
    "encode",
    "equal",
    "same",
]
