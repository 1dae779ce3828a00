"""Typed values through a real app: a callback writes a DataFrame (or an array, a polars frame,
a dict of typed things) to a store, another reads it as State and reports what it got.

The test process builds the same value with `CASES[name]()` and compares `describe(value)`
with the report the app shows, so every dtype, the index, the shape and the content are
checked after a trip through the browser, the codec and SQLite.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl
from dash import Dash, Input, Output, State, dcc, html

import dash_stash

MARKER = "zebra-7731"  # a string of the initial frame that must never reach the browser


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Booster:
    """A model object nobody can store (it would need pickle)."""


def dtypes_frame() -> pd.DataFrame:
    """One column per dtype the issue lists, with missing values where the dtype has them."""
    n = 6
    paris = pd.date_range("2024-03-30 22:00", periods=n, freq="h", tz="Europe/Paris", unit="ns")
    return pd.DataFrame(
        {
            "int64": np.arange(n, dtype="int64") - 3,
            "uint8": np.arange(n, dtype="uint8"),
            "float": [1.5, np.nan, -0.0, np.inf, 2.25, np.nan],
            "float32": np.linspace(0, 1, n, dtype="float32"),
            "bool": [True, False, True, True, False, False],
            "Int64": pd.array([1, None, 3, None, -5, 2**40], dtype="Int64"),
            "boolean": pd.array([True, None, False, True, None, False], dtype="boolean"),
            "Float64": pd.array([0.5, None, 1.5, 2.5, None, 3.5], dtype="Float64"),
            "string": pd.array([MARKER, "b", None, "é", "", "f"], dtype="string"),
            "str": ["x", "y", "z", "x", "y", "z"],
            "object": pd.Series(["o1", "o2", None, "o4", "o5", "o6"], dtype=object),
            "category": pd.Categorical(["lo", "hi", None, "lo", "mid", "hi"]),
            "ordered": pd.Categorical(
                ["s", "m", "l", "m", "s", "l"], categories=["s", "m", "l"], ordered=True
            ),
            "datetime": pd.to_datetime(
                [
                    "2024-01-01 00:00",
                    None,
                    "2024-01-03 12:34:56.789",
                    "1970-01-01",
                    "2262-04-01",
                    "1677-09-22",
                ],
                format="ISO8601",
            ).astype("datetime64[ns]"),
            "datetime_tz": paris.where([True, True, False, True, True, True]),  # one NaT
            "datetime_us": pd.array(pd.date_range("2020-01-01", periods=n, freq="D", unit="us")),
            "timedelta": pd.to_timedelta(["1 day", None, "-3 s", "0 s", "1 ms", "400 days"]),
        },
        index=pd.Index([10, 20, 30, 40, 50, 60], name="row"),
    )


def multiindex_frame() -> pd.DataFrame:
    rows = pd.MultiIndex.from_product([["a", "b"], [1, 2, 3]], names=["letter", "number"])
    cols = pd.MultiIndex.from_tuples(
        [("x", "one"), ("x", "two"), ("y", "one")], names=["outer", "inner"]
    )
    return pd.DataFrame(np.arange(18, dtype="float64").reshape(6, 3), index=rows, columns=cols)


def datetime_index_frame() -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=5, freq="15min", tz="America/New_York", name="when")
    return pd.DataFrame({"v": [1.0, np.nan, 3.0, 4.0, 5.0]}, index=index)


def labels_frame() -> pd.DataFrame:
    """Non-string column labels, and a string index."""
    return pd.DataFrame(
        [[1, 2.5, "a"], [3, np.nan, None]],
        columns=[0, 1.5, "c"],
        index=pd.Index(["r1", "r2"], name="id"),
    )


def empty_frame() -> pd.DataFrame:
    return dtypes_frame().iloc[:0]


def series() -> pd.Series:
    return pd.Series(pd.Categorical(["a", None, "b"]), index=pd.RangeIndex(5, 8), name=("s", 1))


def numpy_array() -> np.ndarray:
    return np.arange(24, dtype="float32").reshape(2, 3, 4) / 7


def polars_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "i": pl.Series([1, None, 3], dtype=pl.Int32),
            "f": [1.5, None, float("nan")],
            "s": ["a", None, "ç"],
            "b": [True, False, None],
            "d": [date(2024, 1, 1), None, date(1999, 12, 31)],
            "t": pl.Series(
                [datetime(2024, 1, 1, 12), None, datetime(2000, 1, 1)],
                dtype=pl.Datetime("us", "Europe/Berlin"),
            ),
            "c": pl.Series(["x", "y", "x"], dtype=pl.Categorical),
            "l": [[1, 2], [], None],
        }
    )


def mixed() -> dict:
    return {
        "frame": dtypes_frame(),
        "array": np.array(["2024-01-01T00:00", "NaT"], dtype="datetime64[m]"),
        "when": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=ZoneInfo("Asia/Tokyo")),
        "utc": datetime(2024, 5, 6, tzinfo=timezone.utc),
        "day": date(2024, 2, 29),
        "at": time(23, 59, 58),
        "span": timedelta(days=-1, seconds=5),
        "price": Decimal("19.990"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "tags": {"b", "a"},
        "frozen": frozenset({1, 2}),
        "pair": (1, "two", (3.0,)),
        "blob": b"\x00\xffbytes",
        "color": Color.BLUE,
        "nan": float("nan"),
        "big": 2**70,
        7: "int key",
        "stamp": pd.Timestamp("2024-01-01 01:02:03", tz="UTC"),
        "nat": pd.NaT,
        "nested": [{"deep": (Decimal("1.5"), datetime(2020, 1, 1))}],
    }


def million() -> pd.DataFrame:
    """1,000,000 rows x 10 columns of mixed numeric dtypes."""
    n, rng = 1_000_000, np.random.default_rng(42)
    columns: dict[str, Any] = {f"f{j}": rng.random(n) for j in range(6)}
    columns["i"] = rng.integers(-(10**9), 10**9, n)
    columns["f32"] = rng.random(n, dtype="float32")
    columns["b"] = rng.random(n) < 0.5
    columns["ts"] = pd.to_datetime(rng.integers(0, 2**40, n), unit="ms")
    return pd.DataFrame(columns)


def big_frame() -> pd.DataFrame:
    """About 3.2 MB encoded (random floats do not compress)."""
    return pd.DataFrame(np.random.default_rng(1).random((40_000, 10)))


def bad_object() -> dict:
    return {"frame": dtypes_frame(), "model": Booster()}


def bad_array() -> np.ndarray:
    return np.array([1, "a", None], dtype=object)


CASES = {
    f.__name__: f
    for f in (
        dtypes_frame,
        multiindex_frame,
        datetime_index_frame,
        labels_frame,
        empty_frame,
        series,
        numpy_array,
        polars_frame,
        mixed,
        million,
        big_frame,
        bad_object,
        bad_array,
    )
}


# ---- the report ---------------------------------------------------------------------------


def describe(v: Any) -> Any:
    """A JSON-able description of a value: its type, dtypes, shape, index and a checksum."""
    if isinstance(v, pd.DataFrame):
        return {
            "type": "DataFrame",
            "shape": list(v.shape),
            "dtypes": [repr(t) for t in v.dtypes],
            "columns": _index(v.columns),
            "index": _index(v.index),
            "checksum": _pandas_checksum(v),
        }
    if isinstance(v, pd.Series):
        return {
            "type": "Series",
            "name": repr(v.name),
            "dtype": repr(v.dtype),
            "index": _index(v.index),
            "checksum": _pandas_checksum(v),
        }
    if isinstance(v, np.ndarray):
        return {
            "type": "ndarray",
            "dtype": v.dtype.str,
            "shape": list(v.shape),
            "checksum": hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest(),
        }
    if isinstance(v, pl.DataFrame):
        return {
            "type": "polars.DataFrame",
            "shape": list(v.shape),
            "schema": [[name, repr(t)] for name, t in v.schema.items()],
            "checksum": hashlib.sha256(v.write_json().encode()).hexdigest(),
        }
    if isinstance(v, dict):
        return {"type": "dict", "items": [[repr(k), describe(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return {"type": type(v).__name__, "items": [describe(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"type": type(v).__name__, "items": sorted(repr(x) for x in v)}
    return {"type": type(v).__name__, "repr": repr(v)}


def _index(index: pd.Index) -> dict:
    return {
        "class": type(index).__name__,
        "names": [repr(n) for n in index.names],
        "dtypes": [repr(t) for t in getattr(index, "dtypes", [index.dtype])],
        "freq": str(getattr(index, "freq", None)),
        "values": repr(index.tolist()[:50]),
        "checksum": _pandas_checksum(index),
    }


def _pandas_checksum(obj: Any) -> str:
    hashes = pd.util.hash_pandas_object(obj, index=not isinstance(obj, pd.Index))
    return f"{int(hashes.to_numpy().sum(dtype='uint64')):x}/{len(hashes)}"


def report(value: Any) -> str:
    return json.dumps(describe(value), sort_keys=True)


# ---- the app ------------------------------------------------------------------------------


def make_app(backend: str, name: str = "typed", typed: bool = True, **init: Any) -> Dash:
    app = Dash(name)
    dash_stash.init(app, backend, typed=typed, **init)  # exact types: the init default
    app.layout = html.Div(
        [
            dash_stash.Store(id="t"),
            dash_stash.Store(id="init", data=dtypes_frame()),
            dcc.Input(id="case", type="text", value=""),
            html.Button("write", id="write"),
            html.Button("read", id="read"),
            html.Button("read init", id="read-init"),
            html.Div(id="wrote"),
            html.Pre(id="report"),
            html.Pre(id="init-report"),
        ]
    )

    @app.callback(
        Output("t", "data"),
        Output("wrote", "children"),
        Input("write", "n_clicks"),
        State("case", "value"),
        prevent_initial_call=True,
    )
    def write(n, case):
        return CASES[case](), f"wrote {n}: {case}"

    @app.callback(
        Output("report", "children"),
        Input("read", "n_clicks"),
        State("t", "data"),
        prevent_initial_call=True,
    )
    def read(n, value):
        return f"read {n}: {report(value)}"

    @app.callback(
        Output("init-report", "children"),
        Input("read-init", "n_clicks"),
        State("init", "data"),
        prevent_initial_call=True,
    )
    def read_init(n, value):
        return f"read {n}: {report(value)}"

    return app
