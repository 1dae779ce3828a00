"""The one place that turns a stored value into bytes and back.

Plain JSON values go through orjson (codec ``"json"``). Anything else must have a typed codec
registered here; there is no fallback to pickle, so an unknown object is an error that names
where in the value it sits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import CorruptRecordError, EncodeError

JSON = "json"

# orjson would silently turn these into strings; we want them to reach `_refuse` instead.
_OPTIONS = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
_SUPPORTED = "dict, list, tuple, str, int, float, bool and None"


@dataclass(frozen=True)
class Encoded:
    """A value as stored: the codec that wrote it and its bytes."""

    codec: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def encode(value: Any, *, store: str = "") -> Encoded:
    """Encode `value`; raise `EncodeError` naming the path of the first part we cannot store."""
    try:
        return Encoded(JSON, orjson.dumps(value, option=_OPTIONS, default=_refuse))
    except orjson.JSONEncodeError as exc:
        path, bad = _find_unstorable(value, store or "value")
        if bad is None:  # orjson refused for another reason (e.g. an int over 64 bits)
            raise EncodeError(f"{store or 'value'}: {exc}", store=store) from None
        raise EncodeError(
            f"{path}: object of type {type(bad).__name__} is not storable; "
            f"supported types: {_SUPPORTED}. Convert it (for example to a dict or a list) "
            "before returning it.",
            store=store,
            path=path,
        ) from None


def decode(encoded: Encoded) -> Any:
    """Decode a stored value; a record we cannot read raises `CorruptRecordError`."""
    if encoded.codec != JSON:
        raise CorruptRecordError(f"unknown codec {encoded.codec!r}")
    try:
        return orjson.loads(encoded.data)
    except orjson.JSONDecodeError as exc:
        raise CorruptRecordError(f"stored bytes are not valid JSON: {exc}") from None


def equal(a: Any, b: Any) -> bool:
    """Value equality as the merge sees it (typed values compare by content)."""
    return type(a) is type(b) and a == b or (_is_number(a) and _is_number(b) and a == b)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _refuse(obj: Any) -> Any:
    raise TypeError


def _find_unstorable(value: Any, path: str) -> tuple[str, Any]:
    """Walk `value` to the first object orjson refused; only runs on the error path."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                return f"{_sub(path, k)} (a key)", k
            found = _find_unstorable(v, _sub(path, k))
            if found[1] is not None:
                return found
        return path, None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _find_unstorable(v, _sub(path, i))
            if found[1] is not None:
                return found
        return path, None
    if value is None or type(value) in (str, int, float, bool):
        return path, None
    return path, value


def _sub(path: str, key: Any) -> str:
    """`user_data["when"]`, `rows[3]`: how a path into a value reads in an error message."""
    shown = orjson.dumps(key).decode() if isinstance(key, str) else repr(key)
    return f"{path}[{shown}]"
