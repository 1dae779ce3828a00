"""Round trips through the codec: plain JSON stays JSON, everything else comes back exactly."""

from __future__ import annotations

import enum
import math
import os
import subprocess
import sys
import uuid
from collections import OrderedDict, namedtuple
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis.extra.numpy as hnp
import numpy as np
import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal, assert_series_equal
from polars.testing.parametric import dataframes as polars_frames

from dash_stash.backends.memory import MemoryBackend
from dash_stash.codec import Compression, Encoded, decode, encode, equal
from dash_stash.engine import StashEngine

# CODEC_EXAMPLES=3000 for a deeper search; the default keeps this file at a few seconds
PROPS = settings(
    max_examples=int(os.environ.get("CODEC_EXAMPLES", 80)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Color(enum.Enum):
    RED = "red"
    GREEN = ("g", 2)


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Perm(enum.Flag):
    R = 4
    W = 2
    X = 1


class Name(str, enum.Enum):
    ADA = "ada"


Point = namedtuple("Point", "x y")


def roundtrip(value: Any, store: str = "s") -> Any:
    """Decode as a backend hands values back: shared bytes, and a fresh buffer given up."""
    encoded = encode(value, store=store)
    assert isinstance(encoded.data, (bytes, memoryview)) and encoded.size == len(encoded.data)
    shared = decode(Encoded(encoded.codec, bytes(encoded.data)))
    owned = decode(Encoded(encoded.codec, memoryview(bytearray(encoded.data))), own=True)
    assert same(owned, shared)
    return shared


def same(a: Any, b: Any) -> bool:
    """Strict equality: same types all the way down, NaN == NaN, frames by content and meta."""
    if type(a) is not type(b):
        return False
    if a is b:  # singletons: None, pd.NaT, pd.NA, Enum members
        return True
    if isinstance(a, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (a != a and b != b)
    if isinstance(a, dict):
        pairs = zip(a.items(), b.items(), strict=False)  # lengths checked first
        return len(a) == len(b) and all(
            same(k1, k2) and same(v1, v2) for (k1, v1), (k2, v2) in pairs
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, (set, frozenset)) and a != b:  # NaN members never equal themselves
        return len(a) == len(b) and all(any(same(x, y) for y in b) for x in a)
    if isinstance(a, (datetime, time)):
        return (
            a.replace(tzinfo=None) == b.replace(tzinfo=None)
            and a.tzinfo == b.tzinfo
            and a.fold == b.fold
        )
    if isinstance(a, Decimal):
        return str(a) == str(b)
    if isinstance(a, (np.ndarray, np.generic)):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, pd.DataFrame):
        assert_frame_equal(b, a, **EXACT, check_column_type=True)
        return equal(a, b)
    if isinstance(a, pd.Series):
        assert_series_equal(b, a, **EXACT)
        return equal(a, b)
    if isinstance(a, pd.Timestamp):
        return a == b and a.unit == b.unit and str(a.tz) == str(b.tz)
    if isinstance(a, pd.Timedelta):
        return a == b and a.unit == b.unit
    if isinstance(a, (pl.DataFrame, pl.Series)):
        return equal(a, b)
    return a is b or a == b


EXACT = dict(
    check_exact=True,
    check_index_type=True,
    check_freq=True,
    check_flags=True,
    check_categorical=True,
)


# ---- plain JSON -----------------------------------------------------------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_leaves,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4)
    ),
    max_leaves=20,
)


@PROPS
@given(json_values)
def test_plain_json_stays_json(value: Any) -> None:
    encoded = encode(value)
    assert encoded.codec == "json"
    assert encoded.data == orjson.dumps(value)
    assert same(decode(encoded), value)


def test_small_dict_uses_the_json_codec() -> None:
    value = {"clicks": 3, "name": "ada", "tags": ["a", "b"], "ok": True, "none": None}
    assert encode(value, store="user_data") == Encoded("json", orjson.dumps(value))


def test_plain_and_scalar_values_import_no_table_library() -> None:
    code = (
        "import sys, datetime; from dash_stash.codec import decode, encode, equal; "
        "v = {'d': datetime.date.today(), 's': {1}, 'n': [1.5]}; "
        "assert equal(decode(encode(v)), v) and equal(decode(encode({'a': 1})), {'a': 1}); "
        "libs = ('numpy', 'pandas', 'polars', 'pyarrow'); "
        "print(sorted(m for m in libs if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_codec_modules_import_one_way() -> None:
    """typed knows nothing of the table libraries' module: arrow registers itself with typed,
    and no codec module imports one that imports it back (issue 9's arrow <-> typed cycle)."""
    import ast
    from pathlib import Path

    import dash_stash.codec

    folder = Path(dash_stash.codec.__file__).parent
    imports = {}
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        imports[path.stem] = {
            alias.name if node.module is None else node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1
            for alias in node.names
        }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for name in imports.get(start, ()):
            if name == target or (name not in seen and reaches(name, target, seen | {name})):
                return True
        return False

    assert "arrow" not in imports["typed"]
    assert [m for m in imports if m != "__init__" and reaches(m, m, set())] == []


def test_json_path_converts_like_dcc_store() -> None:
    """With no typed object at all, JSON's own conversions apply (documented)."""
    u = uuid.UUID(int=7)
    value = {"t": (1, 2), "u": u, "c": Color.RED, "nan": float("nan")}
    encoded = encode(value)
    assert encoded.codec == "json"
    assert decode(encoded) == {"t": [1, 2], "u": str(u), "c": "red", "nan": None}


def test_one_typed_object_makes_the_whole_value_exact() -> None:
    u = uuid.UUID(int=7)
    value = {"t": (1, 2), "u": u, "c": Color.RED, "nan": float("nan"), "d": date(2024, 1, 2)}
    encoded = encode(value)
    assert encoded.codec == "typed"
    assert same(decode(encoded), value)


def test_a_dict_subclass_alone_is_still_json() -> None:
    encoded = encode({"od": OrderedDict(b=1, a=2)})
    assert encoded == Encoded("json", b'{"od":{"b":1,"a":2}}')


def test_subclasses_of_plain_types_come_back_as_the_base_type() -> None:
    value = {"od": OrderedDict(a=1), "p": Point(1, 2), "lvl": Level.HIGH}
    out = roundtrip(value)
    assert same(out, {"od": {"a": 1}, "p": (1, 2), "lvl": Level.HIGH})


# ---- scalars and nesting --------------------------------------------------------------------

zones = st.sampled_from(
    [
        ZoneInfo(k)
        for k in ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
    ]
)
offsets = st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    ),
)
named_offsets = st.builds(
    timezone, st.timedeltas(timedelta(hours=-5), timedelta(hours=5)), st.text(max_size=4)
)
tzs = st.none() | zones | offsets | named_offsets | st.just(timezone.utc)
datetimes = st.datetimes(timezones=tzs)
times = st.builds(
    lambda t, tz, fold: t.replace(tzinfo=tz, fold=fold),
    st.times(),
    st.none() | offsets | zones,
    st.integers(0, 1),
)
numpy_dtypes = (
    hnp.scalar_dtypes()
    | hnp.unicode_string_dtypes(max_len=4)
    | hnp.byte_string_dtypes(max_len=4)
    | hnp.integer_dtypes(endianness=">")
    | hnp.floating_dtypes(endianness=">")
)
numpy_arrays = hnp.arrays(
    numpy_dtypes, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
)
numpy_scalars = hnp.arrays(hnp.scalar_dtypes(), ()).map(lambda a: a[()])
timestamps = st.builds(
    lambda dt, ns, unit, tz: (
        pd.Timestamp(dt)
        .as_unit("ns")
        .__add__(pd.Timedelta(ns, "ns"))
        .as_unit(unit)
        .tz_localize("UTC")
        .tz_convert(tz)
    ),
    st.datetimes(datetime(1700, 1, 1), datetime(2200, 1, 1)),
    st.integers(0, 999),
    st.sampled_from(["s", "ms", "us", "ns"]),
    st.none() | zones | offsets,
)
hashables = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.floats(allow_nan=False)
    | st.dates()
    | datetimes
    | st.uuids()
    | st.decimals(allow_nan=False)
    | st.binary(max_size=5)
    | st.sampled_from([*Color, *Level, *Perm, Perm.R | Perm.W, *Name])
)
typed_leaves = (
    hashables
    | st.integers(min_value=2**64)
    | st.integers(max_value=-(2**63) - 1)
    | st.floats()
    | times
    | st.timedeltas()
    | st.decimals()
    | st.binary().map(bytearray)
    | numpy_scalars
    | numpy_arrays
    | timestamps
    | st.builds(lambda s: pd.Timedelta(s, "s"), st.integers(-(10**6), 10**6))
    | st.sampled_from([pd.NaT, pd.NA, float("nan"), float("inf")])
)
keys = hashables | st.tuples(hashables, hashables) | st.frozensets(hashables, max_size=3)
typed_values = st.recursive(
    typed_leaves,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.tuples(kids, kids)
        | st.dictionaries(st.text(max_size=5) | st.just("__ds__"), kids, max_size=4)
        | st.dictionaries(keys, kids, max_size=4)
        | st.sets(hashables, max_size=4)
        | st.frozensets(hashables, max_size=4)
    ),
    max_leaves=12,
)


@PROPS
@given(typed_values)
def test_typed_values_round_trip_exactly(value: Any) -> None:
    wrapped = [date(2024, 1, 1), value]  # one typed object: the whole value takes the typed path
    assert encode(wrapped).codec == "typed"
    out = roundtrip(wrapped)
    assert same(out, wrapped)
    assert equal(out, wrapped)


@PROPS
@given(numpy_arrays)
def test_numpy_arrays_keep_dtype_shape_and_bytes(a: np.ndarray) -> None:
    out = roundtrip({"a": a})["a"]
    assert same(out, a) and equal(out, a)
    assert out.flags.writeable and out.flags.c_contiguous


def test_numpy_arrays_of_any_layout() -> None:
    a = np.arange(24, dtype="<i4").reshape(2, 3, 4)
    for view in (a.T, a[:, ::2], np.asfortranarray(a), a[0, 0, 0:0], np.float64(2.5) * a):
        assert same(roundtrip(view), np.ascontiguousarray(view))
    dt = np.array(["2020-01-01", "NaT"], dtype="datetime64[ns]")
    assert same(roundtrip(dt), dt)
    assert same(
        roundtrip(np.array([1, "NaT"], dtype="timedelta64[s]")),
        np.array([1, "NaT"], dtype="timedelta64[s]"),
    )


def test_numpy_scalars_come_back_as_the_same_numpy_type() -> None:
    value = {
        "i": np.int64(3),
        "f": np.float64(1.5),
        "b": np.bool_(True),
        "u": np.uint8(7),
        "h": np.float16(0.5),
        "s": np.str_("hé"),
        "t": np.datetime64("2020-01-01", "D"),
    }
    out = roundtrip(value)
    assert same(out, value)
    assert out["i"] == 3 and out["f"] == 1.5 and out["b"] is np.True_


def test_large_arrays_compress_only_when_asked_and_when_it_pays() -> None:
    zeros = np.zeros((512, 1024))  # 4 MiB that squeeze well
    noise = np.random.default_rng(1).random((512, 1024))
    assert encode(zeros).size > zeros.nbytes  # by default: lz4 costs more time than it saves
    lz4 = Compression("lz4")
    assert encode(zeros, compression=lz4).size < 100_000
    assert encode(noise, compression=lz4).size > noise.nbytes
    for value in (zeros, noise):
        assert same(decode(encode(value, compression=lz4)), value)


@pytest.mark.parametrize("codec", ["lz4", "zstd", None])
def test_each_compression_codec_round_trips(codec: str | None) -> None:
    values = {
        "a": np.repeat(np.arange(4096.0), 4),
        "df": pd.DataFrame({"x": np.repeat(np.arange(2000), 8), "s": ["ab"] * 16000}),
        "pl": pl.DataFrame({"x": np.repeat(np.arange(2000), 8)}),
    }
    encoded = encode(values, compression=Compression(codec, above=1024))
    assert (encoded.size < 200_000) == (codec is not None)
    out = decode(encoded)  # a record names its compression: reading needs no setting
    assert same(out, values)


def test_compression_is_a_setting_of_each_stash_not_of_the_process() -> None:
    """Two apps in one process, one compressing: the other's values stay uncompressed."""
    zeros = np.zeros((512, 1024))
    squeezed = StashEngine(MemoryBackend(), compression=Compression("zstd"))
    plain = StashEngine(MemoryBackend())
    assert squeezed.encode(zeros, "a").size < 100_000
    assert plain.encode(zeros, "b").size > zeros.nbytes
    with pytest.raises(ValueError, match="compression must be 'lz4', 'zstd' or None"):
        Compression("gzip")


def test_exact_scalars() -> None:
    paris = ZoneInfo("Europe/Paris")
    value = {
        "naive": datetime(2024, 3, 1, 12, 30, 1, 5),
        "aware": datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=paris),
        "fixed": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5), "X")),
        "utc": datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc),
        "date": date(1, 1, 1),
        "time": time(23, 59, 59, 999999, tzinfo=timezone.utc),
        "td": timedelta(days=-3, microseconds=7),
        "dec": Decimal("-0.00"),
        "snan": Decimal("sNaN"),
        "uuid": uuid.UUID(int=1),
        "bytes": b"\x00\xff",
        "set": {3, 1, 2},
        "fs": frozenset("ab"),
        "tuple": (1, (2, [3])),
        "enum": [Color.GREEN, Level.LOW, Perm.R | Perm.X, Name.ADA],
        "big": -(2**200),
        "inf": float("-inf"),
        (1, "a"): "tuple key",
        2: "int key",
        None: "none key",
        date(2024, 1, 1): "date key",
        "__ds__": {"__ds__": "tuple"},
    }
    out = roundtrip(value)
    assert same(out, value)
    assert out["aware"].utcoffset() == timedelta(hours=1)  # the second 02:30 of that night
    unsortable = {Decimal("NaN"), Decimal(1), "x", (1, None)}  # NaN never equals itself
    assert sorted(map(repr, roundtrip([date.today(), unsortable])[1])) == sorted(
        map(repr, unsortable)
    )


def test_pytz_like_zones_come_back_as_zoneinfo() -> None:
    pd_ts = pd.Timestamp("2024-06-01 12:00", tz="Europe/Berlin")
    dt = pd_ts.to_pydatetime()
    out = roundtrip({"dt": dt, "ts": pd_ts})
    assert out["dt"] == dt and out["dt"].tzinfo == ZoneInfo("Europe/Berlin")
    assert same(out["ts"], pd_ts)


# ---- pandas ---------------------------------------------------------------------------------


def _column(kind: str, n: int) -> st.SearchStrategy:
    def items(elements: st.SearchStrategy) -> st.SearchStrategy:
        return st.lists(elements, min_size=n, max_size=n)

    def when(unit: str) -> st.SearchStrategy:
        return items(st.none() | st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1))).map(
            lambda v: pd.to_datetime(pd.Series(v, dtype=object)).dt.as_unit(unit).array
        )

    return {
        "float": items(st.floats()).map(lambda v: np.array(v, dtype="float64")),
        "float32": items(st.floats(width=32)).map(lambda v: np.array(v, dtype="float32")),
        "int": items(st.integers(-(2**63), 2**63 - 1)).map(lambda v: np.array(v, dtype="int64")),
        "uint8": items(st.integers(0, 255)).map(lambda v: np.array(v, dtype="uint8")),
        "Int64": items(st.none() | st.integers(-(2**63), 2**63 - 1)).map(
            lambda v: pd.array(v, dtype="Int64")
        ),
        "UInt16": items(st.none() | st.integers(0, 2**16 - 1)).map(
            lambda v: pd.array(v, dtype="UInt16")
        ),
        "Float64": items(st.none() | st.floats(allow_nan=False)).map(
            lambda v: pd.array(v, dtype="Float64")
        ),
        "bool": items(st.booleans()).map(lambda v: np.array(v, dtype=bool)),
        "boolean": items(st.none() | st.booleans()).map(lambda v: pd.array(v, dtype="boolean")),
        "str": items(st.none() | st.text(max_size=4)).map(lambda v: pd.array(v, dtype="str")),
        "string": items(st.none() | st.text(max_size=4)).map(lambda v: pd.array(v, dtype="string")),
        "object": items(st.none() | st.text(max_size=4)).map(lambda v: np.array(v, dtype=object)),
        "category": st.tuples(
            items(st.none() | st.sampled_from("abc")), st.permutations("abc"), st.booleans()
        ).map(lambda t: pd.Categorical(t[0], categories=t[1], ordered=t[2])),
        "category_int": items(st.sampled_from([1, 5, 9])).map(pd.Categorical),
        "datetime_ns": when("ns"),
        "datetime_s": when("s"),
        "datetime_tz": st.tuples(when("us"), zones).map(
            lambda t: pd.DatetimeIndex(t[0]).tz_localize("UTC").tz_convert(t[1]).array
        ),
        "timedelta": items(
            st.none() | st.timedeltas(timedelta(days=-999), timedelta(days=999))
        ).map(lambda v: pd.to_timedelta(pd.Series(v, dtype=object)).array),
        "date": items(st.none() | st.dates()).map(lambda v: np.array(v, dtype=object)),
    }[kind]


KINDS = [
    "float",
    "float32",
    "int",
    "uint8",
    "Int64",
    "UInt16",
    "Float64",
    "bool",
    "boolean",
    "str",
    "string",
    "object",
    "category",
    "category_int",
    "datetime_ns",
    "datetime_s",
    "datetime_tz",
    "timedelta",
    "date",
]


def _labels(k: int) -> st.SearchStrategy:
    def sized(elements: st.SearchStrategy) -> st.SearchStrategy:
        return st.lists(elements, min_size=k, max_size=k)

    return (
        st.none()  # keep the default RangeIndex
        | sized(st.text(max_size=3)).map(pd.Index)
        | sized(st.integers(-3, 3)).map(pd.Index)
        | sized(st.floats(allow_nan=False, allow_infinity=False)).map(pd.Index)
        | sized(st.booleans()).map(pd.Index)
        | sized(st.integers(0, 3) | st.text(max_size=2)).map(lambda v: pd.Index(v, dtype=object))
        | sized(st.tuples(st.sampled_from("ab"), st.integers(0, 2))).map(
            lambda v: pd.MultiIndex.from_tuples(v, names=["lvl", 1]) if v else None
        )
    )


def _index(n: int) -> st.SearchStrategy:
    def sized(elements: st.SearchStrategy) -> st.SearchStrategy:
        return st.lists(elements, min_size=n, max_size=n)

    names = st.none() | st.text(max_size=3) | st.integers(0, 3) | st.just(("a", 1))
    return st.one_of(
        st.none(),
        st.builds(
            lambda start, step, name: pd.RangeIndex(start, start + n * step, step, name=name),
            st.integers(-5, 5),
            st.integers(1, 3),
            names,
        ),
        st.builds(
            lambda v, name: pd.Index(v, dtype="int64", name=name), sized(st.integers(-9, 9)), names
        ),
        st.builds(
            lambda v, name: pd.Index(v, dtype="str", name=name), sized(st.text(max_size=3)), names
        ),
        sized(st.text(max_size=3) | st.none()).map(lambda v: pd.Index(v, dtype=object)),
        sized(st.floats(allow_infinity=False)).map(pd.Index),
        st.builds(
            lambda tz, freq: pd.date_range("2024-03-30", periods=n, freq=freq, tz=tz, name="when"),
            st.none() | zones,
            st.sampled_from(["h", "D", "15min"]),
        ),
        sized(st.tuples(st.sampled_from("xy"), st.integers(0, 3))).map(
            lambda v: pd.MultiIndex.from_tuples(v, names=[None, "b"]) if v else None
        ),
        sized(st.sampled_from("pq")).map(pd.CategoricalIndex),
    )


@st.composite
def data_frames(draw: st.DrawFn, max_rows: int = 5) -> pd.DataFrame:
    n = draw(st.integers(0, max_rows))
    kinds = draw(st.lists(st.sampled_from(KINDS), max_size=5))
    df = pd.DataFrame(
        {i: draw(_column(kind, n)) for i, kind in enumerate(kinds)}, index=draw(_index(n))
    )
    if len(df.index) != n:  # no index drawn for an empty frame: keep the default
        df = df.reset_index(drop=True)
    labels = draw(_labels(len(kinds)))
    if labels is not None:
        df.columns = labels
    if draw(st.booleans()):
        df.columns.name = "cols" if df.columns.nlevels == 1 else df.columns.name
    return df


@PROPS
@given(data_frames())
def test_pandas_frames_round_trip(df: pd.DataFrame) -> None:
    out = roundtrip({"df": df})["df"]
    assert same(df, out)


@PROPS
@given(data_frames(), st.none() | st.text(max_size=3) | st.integers() | st.just(("a", 2)))
def test_pandas_series_round_trip(df: pd.DataFrame, name: Any) -> None:
    for i in range(df.shape[1]):
        series = df.iloc[:, i].rename(name)
        out = roundtrip(series)
        assert same(series, out)


def test_pandas_edge_frames() -> None:
    frames = [
        pd.DataFrame(),
        pd.DataFrame(index=pd.RangeIndex(3, 9, 2, name="r")),
        pd.DataFrame(columns=["a", "b"]),
        pd.DataFrame({"a": [1, 2]}, index=pd.RangeIndex(10, 14, 2, name="r")),
        pd.DataFrame([[1, 2, 3]], columns=["a", "a", "b"]),  # duplicate labels
        pd.DataFrame([[1, 2]], columns=[0, "0"]),  # labels that only differ by type
        pd.DataFrame([[1.0, 2.0]], columns=pd.Index([True, False])),
        pd.DataFrame([[1]], columns=pd.MultiIndex.from_tuples([("a", 1)], names=["x", "y"])),
        pd.DataFrame(
            [[1, 2]], columns=pd.MultiIndex.from_tuples([("a", 1), ("b", "x")], names=["p", 2])
        ),
        pd.DataFrame(
            [[1, 2]], columns=pd.Index([("a", 1), "b"], dtype=object, tupleize_cols=False)
        ),
        pd.DataFrame(
            {
                "p": pd.period_range("2020-01", periods=2, freq="M"),
                "i": pd.interval_range(0, 2),
                "b": [b"x", None],
            }
        ),
        pd.DataFrame(
            {"t": pd.date_range("2024", periods=3, freq="D", tz="Asia/Kolkata")},
            index=pd.timedelta_range(0, periods=3, freq="h"),
        ),
        pd.DataFrame({"x": [1]}, index=pd.Index([pd.Timestamp("2020")], name=pd.Timestamp(0))),
        # object columns of strings stay object (pandas 3 infers str from a bare array of them)
        pd.DataFrame({"a": [1, 2]}).assign(o=pd.Series(["p", None], dtype=object)),
        pd.DataFrame({"a": [1, 2]}, index=[7, 8]).assign(
            o=pd.Series(["p", "q"], index=[7, 8], dtype=object)
        ),
        # strings and categories in the direct form: empty, missing, ordered, numbers
        pd.DataFrame(
            {
                "s": pd.array([], dtype="str"),
                "t": pd.array([], dtype="string"),
                "c": pd.Categorical([], categories=["a"]),
            }
        ),
        pd.DataFrame(
            {
                "s": pd.array(["x", None, ""], dtype="str"),
                "t": pd.array([None, "é", "z"], dtype="string"),
                "c": pd.Categorical(["b", None, "a"], categories=["b", "a"], ordered=True),
                "k": pd.Categorical([2.5, 1.0, None]),
                "u": pd.Categorical(np.array([3, 1, 3], dtype=np.uint16)),
                "e": pd.Categorical([None, None, None], categories=pd.Index([], dtype="str")),
            }
        ),
    ]
    for df in frames:
        assert same(df, roundtrip(df))


def every_dtype(rows: int) -> pd.DataFrame:
    """A frame with a column of every kind a callback may change in place."""
    i = np.arange(rows)
    nan = np.where(i % 7 == 0, np.nan, i * 0.5)
    nan[1:4] = [np.inf, -np.inf, -0.0]
    index = pd.RangeIndex(10, 10 + 2 * rows, 2)
    df = pd.DataFrame(
        {
            "f": nan,
            "f32": (i % 11).astype("float32"),
            "i": i,
            "u8": (i % 200).astype("uint8"),
            "b": i % 2 == 0,
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(i, unit="s"),
            "tz": pd.Timestamp("2024-01-01", tz="Europe/Paris") + pd.to_timedelta(i, unit="min"),
            "td": pd.to_timedelta(i, unit="ms"),
            "cat": pd.Categorical(np.array(list("xyz"))[i % 3]),
            "I": pd.array(np.where(i % 5 == 0, None, i), dtype="Int64"),
            "B": pd.array(np.where(i % 3 == 0, None, i % 2 == 0), dtype="boolean"),
            "s": np.array(["a", "bb", "ccc"])[i % 3],
        },
        index=index,
    )
    # Object dtype (pandas 3 would make an array of str its str dtype)
    df["o"] = pd.Series(np.array(["p", "q"], dtype=object)[i % 2], index=index, dtype=object)
    return df


def change_every_column(df: pd.DataFrame) -> None:
    """Change `df` in place the ways callbacks do: cells, whole columns, masks."""
    for i in range(df.shape[1]):
        df.iloc[0, i] = df.iloc[1, i]
    df["f"] += 1
    df.loc[df["i"] > 2, "i"] = -1
    df["cat"] = df["cat"].cat.add_categories("w")
    df.loc[df.index[2], "cat"] = "w"


@pytest.mark.parametrize("rows", [5, 150_000])  # small frames, and frames read zero-copy
@pytest.mark.parametrize("direct", [False, True])  # through from_pandas; the direct form
def test_decoded_frames_are_writable_and_independent(rows: int, direct: bool) -> None:
    df = every_dtype(rows)
    if direct:  # without its object column: strings and categories in the direct form too
        df = df.drop(columns="o")
    encoded = encode(df)
    assert rows < 1000 or encoded.size > 1 << 20
    assert (b'"kinds"' in header_of(encoded)) == direct
    for own in (False, True):
        fresh = Encoded(encoded.codec, memoryview(bytearray(encoded.data)))  # as a file read
        out = decode(fresh, own=own)
        assert same(out, df)
        change_every_column(out)
        assert out.iloc[0, 0] == df.iloc[1, 0] + 1 and out.loc[out.index[2], "cat"] == "w"
        assert same(decode(encoded), df)  # the stored bytes are untouched
        assert own or same(decode(fresh), df)  # and so is a buffer not given up
    a, b = decode(encoded), decode(encoded)
    change_every_column(a)
    assert same(b, df)  # two reads of one record share nothing writable


def header_of(encoded: Encoded) -> bytes:
    return bytes(encoded.data[-8 - int.from_bytes(encoded.data[-8:], "little") : -8])


def direct_dtypes(rows: int) -> pd.DataFrame:
    """A frame of the kinds the direct form holds: numbers, bools, datetimes (naive and
    tz-aware), timedeltas, nullable numbers and booleans, with a RangeIndex."""
    i = np.arange(rows)
    return pd.DataFrame(
        {
            "f": i * 0.5,
            "i": i,
            "b": i % 2 == 0,
            "u": (i % 250).astype(np.uint8),
            "h": (i % 100).astype(np.float16),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(i, unit="s"),
            "tz": pd.Timestamp("2024-01-01", tz="Europe/Paris") + pd.to_timedelta(i, unit="min"),
            "td": pd.to_timedelta(i, unit="ms"),
            "I": pd.array(np.where(i % 5 == 0, None, i), dtype="Int64"),
            "F": pd.array(np.where(i % 4 == 0, None, i * 0.25), dtype="Float64"),
            "B": pd.array(np.where(i % 3 == 0, None, i % 2 == 0), dtype="boolean"),
        },
        index=pd.RangeIndex(10, 10 + 2 * rows, 2, name="row"),
    )


@pytest.mark.parametrize("rows", [0, 5, 150_000])
def test_direct_frames_are_writable_and_independent(rows: int) -> None:
    """Frames of numbers, datetimes and nullable columns skip pyarrow's pandas conversion;
    a callback may still change its frame in place without touching anyone else's."""
    df = direct_dtypes(rows)
    encoded = encode(df)
    assert b'"kinds"' in header_of(encoded)  # the direct form, not from_pandas
    for own in (False, True):
        fresh = Encoded(encoded.codec, memoryview(bytearray(encoded.data)))  # as a file read
        out = decode(fresh, own=own)
        assert same(out, df)
        if rows:
            out.iloc[0] = out.iloc[1]
            out["f"] += 1
            out.loc[out["i"] > 2, "I"] = -1
            assert out["f"].iloc[0] == df["f"].iloc[1] + 1 and out["I"].iloc[-1] == -1
        assert same(decode(encoded), df)  # the stored bytes are untouched
        assert own or same(decode(fresh), df)  # and so is a buffer not given up
    a, b = decode(encoded), decode(encoded)
    if rows:
        a["f"] *= 2
        a.iloc[0, 1] = 99
    assert same(b, df)


def test_direct_frames_labels_are_each_frames_own() -> None:
    """The column labels of a frame read twice share their values, never their Index: one
    callback adding a column or naming the axis leaves the other's frame as stored."""
    df = pd.DataFrame({"x": [1.0, 2.0], "y": [3, 4]})
    encoded = encode(df)
    a, b = decode(encoded), decode(encoded)
    assert a.columns is not b.columns
    a.columns.name = "renamed"
    a["new"] = 0
    assert list(a.columns) == ["x", "y", "new"] and a.columns.name == "renamed"
    c = decode(encoded)
    for out in (b, c):
        assert same(out, df) and out.columns.name is None and list(out.columns) == ["x", "y"]
    wide = pd.DataFrame(np.zeros((1, 1200)), columns=[f"c{i}" for i in range(1200)])
    assert same(decode(encode(wide)), wide)  # past the shared labels' width: built each time


def test_pandas_scalars_from_a_row() -> None:
    df = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-01-01 00:00:00.000000001", None]),
            "n": pd.array([1, None], dtype="Int64"),
            "f": [0.5, 1.5],
        }
    )
    rows = df.to_dict("records")
    out = roundtrip(rows)
    assert same(out, rows)


# ---- polars and Arrow -----------------------------------------------------------------------


@PROPS
@given(polars_frames(max_size=5, max_cols=5, excluded_dtypes=[pl.Object]))
def test_polars_frames_round_trip(df: pl.DataFrame) -> None:
    out = roundtrip({"df": df})["df"]
    assert isinstance(out, pl.DataFrame) and out.schema == df.schema
    assert equal(df, out)


def test_polars_series_and_edge_frames() -> None:
    for value in (
        pl.DataFrame(),
        pl.DataFrame({"a": []}, schema={"a": pl.Int8}),
        pl.Series("", [1.0, None, float("nan")]),
        pl.Series("c", ["x", "y"], dtype=pl.Categorical),
        pl.Series("e", ["lo", "hi"], dtype=pl.Enum(["lo", "hi"])),
        pl.DataFrame({"t": [datetime(2020, 1, 1)]}).with_columns(
            pl.col("t").dt.replace_time_zone("Europe/Paris")
        ),
    ):
        out = roundtrip(value)
        assert type(out) is type(value) and equal(out, value)
        if isinstance(value, pl.Series):
            assert out.name == value.name and out.dtype == value.dtype


def test_arrow_tables_round_trip() -> None:
    table = pa.table({"a": [1, None], "b": ["x", "y"]})
    assert roundtrip({"t": table})["t"].equals(table)


# ---- nested mixes and equality --------------------------------------------------------------


@PROPS
@given(data_frames(max_rows=3), numpy_arrays, typed_values)
def test_nested_mixes(df: pd.DataFrame, a: np.ndarray, other: Any) -> None:
    value = {
        "frames": [df, {"again": df}],
        "arrays": (a, [a]),
        "other": other,
        "polars": pl.DataFrame({"x": [1, 2]}),
        5: {"deep": [[{"df": df}]]},
    }
    out = roundtrip(value)
    assert same(out, value)
    assert equal(out, value)


def test_equal_is_strict_about_types_and_lenient_about_nan() -> None:
    nan = float("nan")
    assert equal(1, 1.0) and not equal(True, 1) and not equal([True], [1])
    assert equal({"a": [nan]}, {"a": [nan]}) and not equal({"a": 1}, {"a": 1, "b": 2})
    assert not equal((1, 2), [1, 2]) and not equal({"a": 1}, {"b": 1})
    df = pd.DataFrame({"a": [1.0, nan]})
    assert equal(df, df.copy()) and equal({"df": df}, {"df": df.copy()})
    assert not equal(df, df.astype("float32"))
    assert not equal(df, df.rename_axis("i"))
    assert not equal(df, df.set_axis(pd.Index([0, 1]), axis=0))  # RangeIndex vs Index
    assert not equal(df, pd.DataFrame({"a": [1.0, 2.0]}))
    assert not equal(df, df["a"])
    a = np.array([1.0, nan])
    assert equal(a, a.copy()) and not equal(a, a.astype("float32")) and not equal(a, a[:1])
    assert equal(np.array(["NaT"], "M8[s]"), np.array(["NaT"], "M8[s]"))
    assert not equal(pl.DataFrame({"a": [1]}), pl.DataFrame({"a": [1.0]}))
    assert equal(pl.DataFrame({"a": [nan]}), pl.DataFrame({"a": [nan]}))
    assert equal(pd.NaT, pd.NaT) and equal(pd.NA, pd.NA) and not equal(pd.NA, None)
    assert equal(Color.RED, Color.RED) and not equal(Color.RED, "red")


@pytest.mark.parametrize(
    "make",
    [
        lambda: direct_dtypes(20_000),  # the direct form
        lambda: every_dtype(20_000),  # through from_pandas
        lambda: {"a": np.arange(50_000), "t": pa.table({"x": np.arange(20_000)})},
        lambda: pl.DataFrame({"x": np.arange(20_000), "s": ["v"] * 20_000}),
        lambda: [b"\x00" * 70_000, (1, 2)],
    ],
)
def test_streamed_encodings_write_the_bytes_a_laid_out_one_holds(make) -> None:
    """A large value encoded for a commit (`stream=True`) is not laid out in memory: its
    size is known, and `write_to` writes exactly the bytes `encode` lays out, part by part."""
    import io

    from dash_stash.codec import Streamed

    value = make()
    streamed, laid_out = encode(value, stream=True), encode(value)
    assert isinstance(streamed, Streamed) and not isinstance(laid_out, Streamed)
    assert streamed.size == laid_out.size >= 1 << 16 and not streamed.in_memory
    sink = io.BytesIO()
    streamed.write_to(sink)
    streamed.write_to(sink)  # as often as asked: a comparison, then the file
    assert sink.getvalue() == bytes(laid_out.data) * 2 and not streamed.in_memory
    assert bytes(streamed.data) == bytes(laid_out.data) and streamed.in_memory
    assert streamed.laid_out() == laid_out and equal(decode(streamed), value)
    squeezed = encode(value, stream=True, compression=Compression("lz4", above=1 << 16))
    assert equal(decode(squeezed), value)  # compressed parts stream too


def test_a_value_changed_while_it_streams_is_refused_not_stored_short() -> None:
    """The sizes are counted when the value is encoded; a part that then writes another size
    (here: a buffer swapped under the record) raises instead of writing a record whose
    header points at the wrong bytes."""
    import io

    from dash_stash.codec.envelope import Writer

    writer = Writer()
    writer.add(100_000, lambda out: None, lambda sink: sink.write(b"x" * 99_999))
    layout = writer.finish({"b": 0})
    with pytest.raises(RuntimeError, match="wrote 99999 bytes, not the 100000 it reserved"):
        layout.write(io.BytesIO())


def test_file_holds_compares_a_streamed_value_with_a_file(tmp_path) -> None:
    from dash_stash.codec.buffers import file_holds

    df = direct_dtypes(30_000)
    path = tmp_path / "value"
    path.write_bytes(bytes(encode(df).data))
    streamed = encode(df, stream=True)
    assert file_holds(path, streamed.size, streamed.write_to) and not streamed.in_memory
    changed = df.copy()
    changed.iloc[-1, 0] = -1.0  # the last column's last row: found at the very end
    other = encode(changed, stream=True)
    assert other.size == streamed.size and not file_holds(path, other.size, other.write_to)
    shorter = encode(df.iloc[:-1], stream=True)
    assert not file_holds(path, shorter.size, shorter.write_to)
    path.write_bytes(bytes(encode(df).data) + b"\0")
    assert not file_holds(path, streamed.size, streamed.write_to)
