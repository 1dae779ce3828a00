"""The one place that turns a stored value into bytes and back. Never pickle.

Two ways to see a value (`encode(..., typed=...)`):

- ``typed=False``, what a `Store` does by default: a value Dash's encoder can serialize is
  stored as `dcc.Store` would give it back after its JSON round trip through the browser
  (`browser_json`): string keys, ISO dates, Figures as their dict, arrays and tuples as
  lists, Decimal as a number, NaN as None, integral floats as ints, big ints rounded as
  JavaScript rounds them. A value Dash's encoder refuses (a DataFrame, a set...) keeps its
  type, as with ``typed=True``.
- ``typed=True``: exact, below.

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

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from ..errors import CorruptRecordError
from . import arrow  # plugs tables, arrays and pandas scalars into `typed`
from . import typed as exact
from .buffers import LARGE, allocate, same_bytes
from .collector import paused
from .compression import OFF, Compression
from .envelope import Layout

JSON = "json"
TYPED = exact.TYPED

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

    def write_to(self, sink: Any) -> None:
        """Write the bytes to `sink` (`sink.write(bytes-like)`): a value file, or
        `buffers.file_holds`'s comparison with one."""
        sink.write(self.data)

    def laid_out(self) -> Encoded:
        """This value with its bytes in memory (itself, unless `Streamed`)."""
        return self


class Streamed(Encoded):
    """A large typed value whose bytes are not laid out yet (an `envelope.Layout`): its size
    is known, `write_to` writes them straight to a file or a comparison, and only `data`
    lays them out in one buffer (once; the layout is dropped then).

    What a write of a large table encodes to, so that neither its value file nor the check
    that it is unchanged (`Backend.holds`) needs a second copy of the table in memory. The
    layout reads the writer's value (a frame's columns) when written: a backend writes or
    lays it out inside its commit and keeps only the bytes (a value file, or `data`)."""

    def __init__(self, codec: str, layout: Layout) -> None:
        object.__setattr__(self, "codec", codec)
        object.__setattr__(self, "_layout", layout)
        object.__setattr__(self, "_data", None)

    @property
    def data(self) -> bytes | memoryview:  # type: ignore[override]
        if self._data is None:
            layout = self._layout
            buf = allocate(layout.size)
            layout.fill(buf)
            object.__setattr__(self, "_data", bytes(buf) if len(buf) < LARGE else buf.toreadonly())
            object.__setattr__(self, "_layout", None)
        return self._data

    @property
    def size(self) -> int:
        return self._layout.size if self._data is None else len(self._data)

    @property
    def in_memory(self) -> bool:
        """Have the bytes been laid out in memory (`data` was asked for)?"""
        return self._data is not None

    def laid_out(self) -> Encoded:
        return Encoded(self.codec, self.data)

    def write_to(self, sink: Any) -> None:
        if self._data is None:
            self._layout.write(sink)
        else:
            sink.write(self._data)


def _encoded(codec: str, data: bytes | Layout) -> Encoded:
    return Streamed(codec, data) if isinstance(data, Layout) else Encoded(codec, data)


def encode(
    value: Any,
    *,
    store: str = "",
    typed: bool = True,
    compression: Compression = OFF,
    stream: bool = False,
) -> Encoded:
    """Encode `value`; raise `EncodeError` naming the path of the first part we cannot store.

    `typed=False` stores what a `dcc.Store` would give back (see the module docstring);
    `compression` is the stash's setting for large tables and arrays (off by default).
    `stream`: a large typed value may come back `Streamed` (its bytes written later, from
    `value` itself, where they go), for a commit that writes it at once; otherwise the bytes
    are laid out now, a snapshot of `value` that may be kept."""
    if not typed:
        seen = browser_json(value)
        if seen is not None:
            return seen
    try:
        return Encoded(JSON, orjson.dumps(value, option=_OPTIONS, default=_not_plain))
    except orjson.JSONEncodeError:
        pass  # something orjson cannot write alone: store the whole value typed
    encoded = _encoded(*exact.dump(value, store, compression))
    return encoded if stream else encoded.laid_out()


def decode(encoded: Encoded, *, own: bool = False) -> Any:
    """Decode a stored value; a record we cannot read raises `CorruptRecordError`.

    `own`: the caller will not use `encoded` again, so a writable buffer in it (fresh from the
    backend) may become the value's own memory, saving a copy of large arrays and frames."""
    if encoded.codec == JSON:
        try:
            with paused():  # no collection can free what it makes: no cycles
                return orjson.loads(encoded.data)
        except orjson.JSONDecodeError as exc:
            raise CorruptRecordError(f"stored bytes are not valid JSON: {exc}") from None
    if encoded.codec == TYPED:
        return exact.load(encoded.data, own)
    raise CorruptRecordError(f"unknown codec {encoded.codec!r}")


def copier(value: Any) -> Callable[[], Any] | None:
    """A function making new copies of a decoded `value` that share nothing writable with
    it, when a copy is cheap and complete (frames and arrays of plain numbers and datetimes:
    `arrow.copier`); None for any other value."""
    return arrow.copier(value)


def _not_plain(obj: Any) -> Any:
    raise TypeError


# ---- what dcc.Store gives back ----------------------------------------------------------------

# Dash's encoder (plotly.io.json.to_json_plotly) with orjson installed, as it always is with
# dash-stash: orjson with these options, and only if that fails, plotly's cleaning walk.
_DASH = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
# Tokens of Dash's JSON that the browser's JSON.parse -> JSON.stringify -> Python json.loads
# changes: integral floats ("1.0", "-0.0", "1e+16"), integers past 2**53, and object keys that
# are array indices (JavaScript puts them first, in numeric order). False hits are harmless:
# they only cost a walk that finds nothing to change. One pattern each, every one starting with
# a literal or a character class that `re` can scan for: as one alternation (no common prefix)
# the search tried every branch at every byte, 340 ms for 2 MB of records, now 10-25 ms.
_BROWSER_CHANGES = tuple(
    re.compile(pattern)
    for pattern in (
        rb"\.0(?![0-9])",
        rb"e\+",
        rb"[\[,:]-?[0-9]{16}",
        rb"^-?[0-9]{16}",
        rb'"(?:0|[1-9][0-9]*)":',
    )
)
_SAFE_INT = 2**53
_INT_TEXT_BELOW = 1e21  # JavaScript writes integral numbers below this without an exponent
_INDEX_BELOW = 2**32 - 1  # largest array index + 1


def browser_json(value: Any) -> Encoded | None:
    """What a `dcc.Store` holding `value` gives a callback back, encoded; None when Dash's
    encoder cannot serialize `value` (a `dcc.Store` app cannot hold it at all)."""
    data = _dash_json(value)
    if data is None:
        return None
    if not any(pattern.search(data) for pattern in _BROWSER_CHANGES):
        return Encoded(JSON, data)
    seen = as_browser_sees(orjson.loads(data))
    try:
        return Encoded(JSON, orjson.dumps(seen))
    except orjson.JSONEncodeError:  # an integer past 2**64 (a float below 1e21): keep it exact
        return _encoded(*exact.dump(seen, ""))


def _dash_json(value: Any) -> bytes | None:
    """Dash's JSON for `value` (the orjson branch of plotly's `to_json_plotly`); None if
    Dash's encoder raises for it."""
    try:
        value = value.to_plotly_json()
    except AttributeError:
        pass
    except Exception:  # an object whose to_plotly_json fails fails in Dash as well
        return None
    try:
        return orjson.dumps(value, option=_DASH)
    except TypeError:
        pass
    from _plotly_utils.optional_imports import get_module
    from plotly.io._json import clean_to_json_compatible

    modules = {
        "sage_all": get_module("sage.all", should_load=False),
        "np": get_module("numpy", should_load=False),
        "pd": get_module("pandas", should_load=False),
        "image": get_module("PIL.Image", should_load=False),
    }
    try:
        cleaned = clean_to_json_compatible(
            value, numpy_allowed=True, datetime_allowed=True, modules=modules
        )
        return orjson.dumps(cleaned, option=_DASH)
    except Exception:  # TypeError mostly; whatever Dash's encoder would fail with
        return None


def as_browser_sees(v: Any) -> Any:
    """A parsed JSON value as it comes back from the browser: JavaScript keeps every number
    as a double and writes integral ones without a fraction (Python then reads an int), and
    it orders object keys that are array indices first."""
    t = type(v)
    if t is float:
        if v.is_integer() and abs(v) < _INT_TEXT_BELOW:
            return int(v) if abs(v) <= _SAFE_INT else int(Decimal(repr(v)))
        return v
    if t is int:
        return v if abs(v) <= _SAFE_INT else as_browser_sees(float(v))
    if t is list:
        return [as_browser_sees(x) for x in v]
    if t is dict:
        out = {k: as_browser_sees(x) for k, x in v.items()}
        indices = [k for k in out if _is_index(k)]
        if indices and list(out)[: len(indices)] != sorted(indices, key=int):
            rest = {k: x for k, x in out.items() if not _is_index(k)}
            out = {**{k: out[k] for k in sorted(indices, key=int)}, **rest}
        return out
    return v


def _is_index(key: str) -> bool:
    return (
        key.isascii()
        and key.isdigit()
        and (key == "0" or key[0] != "0")
        and int(key) < _INDEX_BELOW
    )


def same(a: Encoded, b: Encoded) -> bool:
    """Do two encodings hold the same value? Equal bytes, or (key order aside) equal JSON."""
    if a.codec != b.codec or a.size != b.size:  # equal JSON in another key order: one size
        return False
    if same_bytes(a.data, b.data):
        return True
    return a.codec == JSON and len(a.data) == len(b.data) and equal(decode(a), decode(b))


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
