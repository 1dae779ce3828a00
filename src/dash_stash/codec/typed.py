"""The typed codec: values that plain JSON cannot hold, stored exactly and without pickle.

`registry.encode` sends a value here only when orjson could not write it alone (it met a
datetime, a DataFrame, a big int, a non-string key...). From then on the whole value is walked
in Python and stored exactly: every object JSON has no type for becomes a tagged placeholder
``{"__ds__": "<tag>", ...}`` in the header of an envelope (see `envelope`), large binary parts
(bytes, arrays, Arrow tables) go to blobs. So in such a value tuples stay tuples, UUIDs UUIDs,
Enum members Enum members, NaN stays NaN and integer keys stay integers. A user dict that has
the key ``"__ds__"`` (or any non-string key) is written as a tagged list of pairs, so it round
trips unchanged.

Tags and their fields (``b`` is a blob index):

    tuple, set, frozenset       v: [items]            dict       v: [[key, value], ...]
    int (over 64 bits)          v: "0x..." (hex)      float      v: "nan" | "inf" | "-inf"
    datetime, time              v: wall-clock ISO text, tz: zone key | [[d, s, us], name?],
                                fold: 1 (only when set)
    date                        v: ISO text           timedelta  v: [days, seconds, us]
    decimal, uuid               v: text               bytes, bytearray   b
    enum                        cls: "module:qualname", v: the member's value
    numpy, pandas, polars and pyarrow values    see `arrow`, which registers them here
    (`register_module`, `register`): this module imports none of those libraries

Decisions: subclasses of dict, list, tuple (named tuples), str, int, float, datetime and date
come back as their base type. An object with `to_plotly_json` (a plotly Figure, a Dash
component) has no exact form: it is stored as that JSON, as Dash would send it. A
``zoneinfo`` or ``pytz`` time zone comes back as the ``zoneinfo.ZoneInfo`` of the same name,
a fixed offset as ``datetime.timezone``, any other tzinfo as the fixed offset it had at that
moment. Enum classes must live at module level; on
reading, only a subclass of ``enum.Enum`` is accepted.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import importlib
import math
import sys
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from ..errors import CorruptRecordError, EncodeError, format_path
from .compression import OFF, Compression
from .envelope import TAG, BadRecord, Layout, Reader, Unstorable, Writer

TYPED = "typed"
SUPPORTED = (
    "dict, list, str, int, float, bool, None, tuple, set, datetime, date, time, timedelta, "
    "Decimal, UUID, bytes, Enum, numpy arrays, pandas and polars DataFrames/Series"
)
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson writes as a JSON number


# ---- what other modules add -----------------------------------------------------------------

ForeignDump = Callable[[Any, "Dumper"], "dict | None"]
Load = Callable[["Loader", dict], Any]
_MODULES: dict[str, ForeignDump] = {}  # top-level module name -> its placeholder maker
_LOADERS: dict[str, Load] = {}  # tag -> the function that reads its placeholder back


def register_module(root: str, dump: ForeignDump) -> None:
    """Let `dump` store the values of the package `root` ("pandas"...): it returns their
    placeholder, or None for a type it does not store. How `arrow` plugs tables in, so that
    this module never imports the libraries of the values it stores."""
    _MODULES[root] = dump


def register(tag: str, load: Load) -> None:
    """Read placeholders tagged `tag` with `load`; a tag is registered once."""
    if _LOADERS.get(tag, load) is not load:
        raise ValueError(f"the typed tag {tag!r} is registered already")
    _LOADERS[tag] = load


# ---- encoding -------------------------------------------------------------------------------


def dump(value: Any, store: str, compression: Compression = OFF) -> tuple[str, bytes | Layout]:
    """Encode `value` exactly; return (codec, bytes), or for a large record (codec, its
    `Layout`), written later where it goes. `store` labels the root in errors; `compression`
    applies to large tables and arrays."""
    label = store or "value"
    dumper = Dumper(compression)
    try:
        tree = dumper.tree(value)
        if not dumper.typed:  # only JSON after all (a dict subclass, say): keep it plain
            return "json", orjson.dumps(tree)
        return TYPED, dumper.writer.finish(tree)
    except Unstorable as exc:
        raise _unstorable_error(value, exc, label, store) from None
    except RecursionError:
        raise EncodeError(
            f"{label}: the value is nested too deeply or contains itself; store a flatter "
            "value without circular references.",
            store=store,
            path=label,
        ) from None
    except orjson.JSONEncodeError as exc:  # e.g. a str with lone surrogates, > 255 levels
        raise EncodeError(
            f"{label}: the value cannot be stored: {exc}", store=store, path=label
        ) from None


class Dumper:
    """One walk over a value: returns the JSON tree, writes blobs to `writer`."""

    def __init__(self, compression: Compression = OFF) -> None:
        self.writer = Writer()
        self.typed = False
        self.compression = compression

    def tag(self, name: str, **fields: Any) -> dict:
        self.typed = True
        return {TAG: name, **fields}

    def tree(self, v: Any) -> Any:
        t = type(v)
        if t is str or t is bool or v is None:
            return v
        if t is int:
            return v if _INT_MIN <= v <= _INT_MAX else self.tag("int", v=hex(v))
        if t is float:
            return v if math.isfinite(v) else self.tag("float", v=repr(v))
        if t is dict:
            return self.dict(v)
        if t is list:
            return [self.tree(x) for x in v]
        dump_exact = _EXACT.get(t)
        if dump_exact is not None:
            return dump_exact(self, v)
        return self.other(v)

    def dict(self, v: dict) -> Any:
        if TAG not in v and all(type(k) is str for k in v):
            return {k: self.tree(x) for k, x in v.items()}
        return self.tag("dict", v=[[self.tree(k), self.tree(x)] for k, x in v.items()])

    def members(self, v: set | frozenset) -> list:
        try:  # a stable order, so equal sets give equal bytes when their items sort
            items = sorted(v)
        except Exception:  # mixed types; Decimal NaN even raises InvalidOperation
            items = list(v)
        return [self.tree(x) for x in items]

    def blob(self, v: bytes | bytearray) -> int:
        return self.writer.add_bytes(v)

    def other(self, v: Any) -> Any:
        dump_foreign = _MODULES.get(type(v).__module__.partition(".")[0])
        if dump_foreign is not None:
            node = dump_foreign(v, self)
            if node is not None:
                self.typed = True
                return node
        if isinstance(v, enum.Enum):
            return _enum(self, v)
        for base, dump_base in _BASES:
            if isinstance(v, base):
                return dump_base(self, v)
        to_plotly_json = getattr(v, "to_plotly_json", None)
        if callable(to_plotly_json):  # a Figure or a component: its JSON, as Dash sends it
            return self.tree(to_plotly_json())
        raise Unstorable(v)


def _datetime(d: Dumper, v: datetime) -> dict:
    fields: dict[str, Any] = {"v": v.replace(tzinfo=None).isoformat()}
    if v.tzinfo is not None:
        fields["tz"] = zone(v.tzinfo, v.utcoffset())
    if v.fold:
        fields["fold"] = 1
    return d.tag("datetime", **fields)


def _time(d: Dumper, v: time) -> dict:
    fields: dict[str, Any] = {"v": v.replace(tzinfo=None).isoformat()}
    if v.tzinfo is not None:
        fields["tz"] = zone(v.tzinfo, v.utcoffset())
    if v.fold:
        fields["fold"] = 1
    return d.tag("time", **fields)


def zone(tz: tzinfo, offset: timedelta | None) -> Any:
    """A zone by its name when it has one, else its UTC offset (and name, if not the default)."""
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)  # zoneinfo, pytz
    if isinstance(key, str):
        return key
    if isinstance(tz, timezone):
        offset = tz.utcoffset(None)
        name = tz.tzname(None)
        return [_td(offset)] + ([name] if name != timezone(offset).tzname(None) else [])
    if offset is None:
        raise Unstorable(
            tz,
            f"the time zone {tz!r} has no fixed UTC offset and no name; use "
            "a zoneinfo.ZoneInfo or a datetime.timezone",
        )
    return [_td(offset)]


def _td(v: timedelta) -> list[int]:
    return [v.days, v.seconds, v.microseconds]


def _enum(d: Dumper, v: enum.Enum) -> dict:
    cls = type(v)
    if "<locals>" in cls.__qualname__:
        raise Unstorable(
            v,
            f"the Enum {cls.__qualname__} is defined inside a function, so it "
            "cannot be found again when the value is read; define it at module "
            "level.",
        )
    try:
        value = d.tree(v.value)
    except Unstorable as exc:
        raise Unstorable(
            v,
            f"the value of {v!r} is not storable: "
            f"{exc.reason or f'object of type {type(exc.obj).__name__}'}",
        ) from None
    return d.tag("enum", cls=f"{cls.__module__}:{cls.__qualname__}", v=value)


_EXACT: dict[type, Any] = {
    tuple: lambda d, v: d.tag("tuple", v=[d.tree(x) for x in v]),
    set: lambda d, v: d.tag("set", v=d.members(v)),
    frozenset: lambda d, v: d.tag("frozenset", v=d.members(v)),
    datetime: _datetime,
    date: lambda d, v: d.tag("date", v=v.isoformat()),
    time: _time,
    timedelta: lambda d, v: d.tag("timedelta", v=_td(v)),
    Decimal: lambda d, v: d.tag("decimal", v=str(v)),
    UUID: lambda d, v: d.tag("uuid", v=str(v)),
    bytes: lambda d, v: d.tag("bytes", b=d.blob(v)),
    bytearray: lambda d, v: d.tag("bytearray", b=d.blob(v)),
}
# subclasses (OrderedDict, named tuples, str/int subclasses...) are stored as their base type
_BASES: list[tuple[type, Any]] = [
    (dict, lambda d, v: d.dict(dict(v))),
    (list, lambda d, v: [d.tree(x) for x in v]),
    (tuple, _EXACT[tuple]),
    (str, lambda d, v: str.__str__(v)),
    (int, lambda d, v: d.tree(int.__index__(v))),
    (float, lambda d, v: d.tree(float.__float__(v))),
    (datetime, _datetime),
    (date, _EXACT[date]),
    (set, _EXACT[set]),
    (frozenset, _EXACT[frozenset]),
]


# ---- errors ---------------------------------------------------------------------------------


_HINTS = {
    "LazyFrame": "Call .collect() on it before returning it.",
    "Index": "Return it as a Series or a list (index.to_list()) instead.",
    "MultiIndex": "Return it as a DataFrame (index.to_frame()) instead.",
    "generator": "Turn it into a list (list(...)) before returning it.",
}


def _unstorable_error(root: Any, exc: Unstorable, label: str, store: str) -> EncodeError:
    path = _locate(root, exc.obj, label, set()) or label
    if exc.reason:
        return EncodeError(f"{path}: {exc.reason}", store=store, path=path)
    obj = exc.obj
    name = type(obj).__name__
    if hasattr(type(obj), "__dataclass_fields__"):
        hint = "Convert it with dataclasses.asdict(...) before returning it."
    elif callable(getattr(obj, "model_dump", None)):
        hint = "Convert it with .model_dump() before returning it."
    else:
        hint = _HINTS.get(
            name, "Convert it (for example to a dict or a DataFrame) before returning it."
        )
    return EncodeError(
        f"{path}: object of type {name} is not storable; supported: {SUPPORTED}. {hint}",
        store=store,
        path=path,
    )


def _locate(v: Any, target: Any, path: str, seen: set[int]) -> str | None:
    """The path of `target` inside `v`, as Python would index it; only runs on errors."""
    if v is target:
        return path
    if isinstance(v, (dict, list, tuple, set, frozenset)):
        if id(v) in seen:
            return None
        seen.add(id(v))
    if isinstance(v, dict):
        for k, x in v.items():
            found = _locate(k, target, f"{format_path(path, (k,))} (a key)", seen) or _locate(
                x, target, format_path(path, (k,)), seen
            )
            if found:
                return found
    elif isinstance(v, (list, tuple)):
        for i, x in enumerate(v):
            found = _locate(x, target, format_path(path, (i,)), seen)
            if found:
                return found
    elif isinstance(v, (set, frozenset)):
        for x in v:
            found = _locate(x, target, f"{path} (an item of a set)", seen)
            if found:
                return found
    return None


# ---- decoding -------------------------------------------------------------------------------


def load(data: bytes | memoryview, own: bool = False) -> Any:
    """Decode a typed record; anything unreadable raises `CorruptRecordError`.

    With `own`, the caller gives a writable `data` up: arrays and frames may then be writable
    views of it instead of copies."""
    view = memoryview(data)
    try:
        return _load(view if own else view.toreadonly())
    except BaseException as exc:  # a damaged record can fail anywhere; report, never crash
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise  # KeyboardInterrupt and friends; a Rust panic in polars is reported
        raise CorruptRecordError(f"the typed record cannot be read: {exc}") from None


def _load(data: memoryview) -> Any:
    reader = Reader(data)
    return Loader(reader).value(reader.tree)


class Loader:
    """One walk over a header tree, turning placeholders back into objects."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def blob(self, index: Any) -> memoryview:
        return self.reader.blob(index)

    def value(self, node: Any) -> Any:
        t = type(node)
        if t is list:
            return [self.value(x) for x in node]
        if t is dict:
            tag = node.get(TAG)
            if tag is None:
                return {k: self.value(x) for k, x in node.items()}
            loader = _LOADERS.get(tag)
            if loader is None:
                raise BadRecord(f"unknown tag {tag!r}")
            return loader(self, node)
        return node


def _load_datetime(ld: Loader, node: dict) -> datetime:
    v = datetime.fromisoformat(node["v"])
    return v.replace(tzinfo=load_zone(node.get("tz")), fold=node.get("fold", 0))


def _load_time(ld: Loader, node: dict) -> time:
    v = time.fromisoformat(node["v"])
    return v.replace(tzinfo=load_zone(node.get("tz")), fold=node.get("fold", 0))


def load_zone(spec: Any) -> tzinfo | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        from zoneinfo import ZoneInfo

        return ZoneInfo(spec)
    offset = timedelta(*spec[0])
    return timezone(offset, spec[1]) if len(spec) > 1 else timezone(offset)


_IMPORTS = contextvars.ContextVar("dash_stash_imports", default=True)


@contextlib.contextmanager
def no_imports() -> Any:
    """Decode without importing anything (`dash-stash inspect`): an Enum whose module is
    not loaded reads as text naming it, since importing runs that module's code."""
    reset = _IMPORTS.set(False)
    try:
        yield
    finally:
        _IMPORTS.reset(reset)


def _load_enum(ld: Loader, node: dict) -> Any:
    module_name, _, qualname = str(node["cls"]).partition(":")
    module = sys.modules.get(module_name)
    if module is None and not _IMPORTS.get():
        return f"<enum {node['cls']} value {ld.value(node['v'])!r}>"
    module = module or importlib.import_module(module_name)
    cls: Any = module
    for part in qualname.split("."):
        cls = getattr(cls, part)
    if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
        raise BadRecord(f"{node['cls']} is not an Enum class; refusing to call it")
    return cls(ld.value(node["v"]))


def _load_float(ld: Loader, node: dict) -> float:
    if node["v"] not in ("nan", "inf", "-inf"):
        raise BadRecord(f"bad float {node['v']!r}")
    return float(node["v"])


_LOADERS.update(
    {
        "tuple": lambda ld, n: tuple(ld.value(n["v"])),
        "set": lambda ld, n: set(ld.value(n["v"])),
        "frozenset": lambda ld, n: frozenset(ld.value(n["v"])),
        "dict": lambda ld, n: {ld.value(k): ld.value(x) for k, x in n["v"]},
        "int": lambda ld, n: int(n["v"], 16),
        "float": _load_float,
        "datetime": _load_datetime,
        "date": lambda ld, n: date.fromisoformat(n["v"]),
        "time": _load_time,
        "timedelta": lambda ld, n: timedelta(*n["v"]),
        "decimal": lambda ld, n: Decimal(n["v"]),
        "uuid": lambda ld, n: UUID(n["v"]),
        "bytes": lambda ld, n: bytes(ld.blob(n["b"])),
        "bytearray": lambda ld, n: bytearray(ld.blob(n["b"])),
        "enum": _load_enum,
    }
)
