"""Turning values into bytes and back: JSON through orjson, typed values tagged. Never pickle."""

from .registry import Encoded, decode, encode, equal

__all__ = ["Encoded", "decode", "encode", "equal"]
