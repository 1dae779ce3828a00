"""The one place that turns a stored value into bytes and back. Never pickle.

Two codecs, named in `Encoded.codec`:

- ``"json"``: orjson bytes, read back with ``orjson.loads``. A value takes this path when orjson
  can write it without help, which costs nothing extra: orjson calls our ``default=`` hook only
  for an object it has no type for (and, thanks to the ``OPT_PASSTHROUGH_*`` options, for
  datetimes, dataclasses and subclasses of str/int/dict/list), and the hook just gives up.
  On this path JSON's own conversions apply, exactly as a ``dcc.Store`` would do them: a tuple
  becomes a list, a UUID its string, an Enum member its value, NaN and infinities ``null``.
  Keeping those exact would need a Python walk over every plain value on every commit.
- ``"typed"`` (see `typed` and `arrow`): as soon as orjson meets anything it cannot write
  alone (a datetime, a DataFrame, a numpy value, a set, an int over 64 bits, a non-string
  key...), the whole value is walked and stored exactly: then tuples, UUIDs, Enum members,
  NaN and integer keys round trip too. numpy scalars come back as the same numpy scalar type
  (``np.float64(1.5)`` stays ``np.float64``), pandas Timestamps as Timestamps.

An object neither codec supports raises `EncodeError` naming the store, the path inside the
value (``user_data["model"]``) and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from ..errors import CorruptRecordError
from . import arrow, typed

JSON = "json"
TYPED = typed.TYPED

# Without OPT_NON_STR_KEYS a dict with an int key is refused, so it goes typed and keeps its keys.
_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


@dataclass(frozen=True)
class Encoded:
    """A value as stored: the codec that wrote it and its bytes (a read-only view for large
    typed values; a writable one only when fresh from a backend for one reader)."""

    codec: str
    data: bytes | memoryview

    @property
    def size(self) -> int:
        return len(self.data)


def encode(value: Any, *, store: str = "") -> Encoded:
    """Encode `value`; raise `EncodeError` naming the path of the first part we cannot store."""
    try:
        return Encoded(JSON, orjson.dumps(value, option=_OPTIONS, default=_not_plain))
    except orjson.JSONEncodeError:
        pass  # something orjson cannot write alone: store the whole value typed
    return Encoded(*typed.dump(value, store))


def decode(encoded: Encoded, *, own: bool = False) -> Any:
    """Decode a stored value; a record we cannot read raises `CorruptRecordError`.

    `own`: the caller will not use `encoded` again, so a writable buffer in it (fresh from the
    backend) may become the value's own memory, saving a copy of large arrays and frames."""
    if encoded.codec == JSON:
        try:
            return orjson.loads(encoded.data)
        except orjson.JSONDecodeError as exc:
            raise CorruptRecordError(f"stored bytes are not valid JSON: {exc}") from None
    if encoded.codec == TYPED:
        return typed.load(encoded.data, own)
    raise CorruptRecordError(f"unknown codec {encoded.codec!r}")


def _not_plain(obj: Any) -> Any:
    raise TypeError


# ---- equality for the three-way merge -------------------------------------------------------

_NUMBERS = (int, float)
_ATOMS = frozenset({str, int, bool, type(None), bytes})


def equal(a: Any, b: Any) -> bool:
    """Value equality as the merge sees it.

    Types must match, except that ``1 == 1.0`` (and ``True != 1``); NaN equals NaN; dicts,
    lists and tuples compare item by item with these rules; DataFrames, Series and arrays are
    single leaves compared by content, dtypes, index and names.
    """
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta is not tb:
        return ta in _NUMBERS and tb in _NUMBERS and a == b
    if ta in _ATOMS:
        return a == b
    if ta is float:
        return a == b or (a != a and b != b)
    if ta is dict:
        return len(a) == len(b) and all(k in b and equal(x, b[k]) for k, x in a.items())
    if ta is list or ta is tuple:
        return len(a) == len(b) and all(map(equal, a, b))
    if ta is Decimal:  # NaN equals NaN here too; sNaN must not be compared with ==
        return str(a) == str(b) or (not a.is_nan() and not b.is_nan() and a == b)
    same = arrow.equal(a, b)
    if same is not None:
        return same
    try:
        result = a == b
        return result if isinstance(result, bool) else bool(result)
    except Exception:  # e.g. pd.NA, whose truth value is ambiguous
        return False
