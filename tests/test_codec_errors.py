"""What a user sees when a value cannot be stored, and what a damaged record does."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import subprocess
import sys
import textwrap
from datetime import date
from typing import Any

import numpy as np
import orjson
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dash_stash.codec import Encoded, decode, encode, equal
from dash_stash.codec.envelope import MAGIC, Writer
from dash_stash.errors import CorruptRecordError, EncodeError

SUPPORTED = (
    "supported: dict, list, str, int, float, bool, None, tuple, set, datetime, date, "
    "time, timedelta, Decimal, UUID, bytes, Enum, numpy arrays, pandas and polars "
    "DataFrames/Series."
)


class Booster:
    """Stands for a model object a callback might try to store."""


@dataclasses.dataclass
class Settings:
    theme: str


def refused(value: Any, store: str = "user_data") -> EncodeError:
    with pytest.raises(EncodeError) as info:
        encode(value, store=store)
    return info.value


# ---- unsupported objects --------------------------------------------------------------------


def test_message_names_store_path_type_and_what_to_do() -> None:
    err = refused({"model": Booster(), "clicks": 3})
    assert str(err) == (
        f'user_data["model"]: object of type Booster is not storable; {SUPPORTED} Convert it '
        "(for example to a dict or a DataFrame) before returning it."
    )
    assert err.store == "user_data" and err.path == 'user_data["model"]'
    assert isinstance(err, TypeError)  # as json.dumps would raise


@pytest.mark.parametrize(
    "value, store, path",
    [
        ({"rows": [1, 2, 3, Booster()]}, "table", 'table["rows"][3]'),
        ([{"a": {"b": Booster()}}], "s", 's[0]["a"]["b"]'),
        (Booster(), "", "value"),
        ({"when": date(2024, 1, 1), "t": (1, Booster())}, "s", 's["t"][1]'),  # on the typed path
        ({"tags": {1, 2}, "x": [{Booster()}]}, "s", 's["x"][0] (an item of a set)'),
        ({"k": {Booster(): 1}}, "s", 's["k"][<'),  # a key: its repr follows
        ({'é "q"': Booster()}, "s", 's["é \\"q\\""]'),
        ({3: Booster()}, "s", "s[3]"),
    ],
)
def test_paths(value: Any, store: str, path: str) -> None:
    err = refused(value, store)
    assert err.path.startswith(path)
    assert str(err).startswith(path) and "object of type Booster is not storable" in str(err)
    if "<" in path:
        assert err.path.endswith("(a key)")


@pytest.mark.parametrize(
    "value, words",
    [
        ({"s": Settings("dark")}, ["object of type Settings", "dataclasses.asdict"]),
        ({"g": (i for i in range(3))}, ["object of type generator", "list(...)"]),
        ({"lazy": pl.DataFrame({"a": [1]}).lazy()}, ["LazyFrame", ".collect()"]),
        ({"arr": np.array([object()])}, ["dtype object", "pickle", "numeric"]),
        ({"arr": np.zeros(2, dtype=[("a", "i4")])}, ["structured", "DataFrame"]),
        ({"arr": np.ma.masked_array([1, 2], mask=[0, 1])}, ["masked array", "arr.mask"]),
        (
            {"df": pd.DataFrame({"ok": [1], "bad": [Booster()]})},
            ["DataFrame cannot be stored", "column 'bad' (dtype object)", ".astype(str)"],
        ),
        ({"df": pd.DataFrame({7: [1, "x"]})}, ["column 7 (dtype object)"]),
        ({"s": pd.Series([1 + 2j])}, ["Series cannot be stored", "complex128"]),
        (
            {"p": pl.DataFrame({"o": pl.Series([Booster()], dtype=pl.Object)})},
            ["polars column 'o' has dtype Object", "pickle"],
        ),
        ({"idx": pd.Index([1, 2])}, ["object of type Index", "to_list()"]),
    ],
)
def test_specific_advice(value: Any, words: list[str]) -> None:
    key = next(iter(value))
    message = str(refused(value))
    assert message.startswith(f'user_data["{key}"]: ')
    for word in words:
        assert word in message


def test_enum_defined_in_a_function_is_refused() -> None:
    class Local(enum.Enum):
        A = 1

    message = str(refused({"when": date(2024, 1, 1), "e": Local.A}))
    assert message.startswith('user_data["e"]: the Enum') and "module level" in message


def test_circular_and_invalid_values() -> None:
    loop: dict = {}
    loop["self"] = loop
    assert "contains itself" in str(refused(loop))
    assert str(refused({"a": "\ud800"})).startswith("user_data: the value cannot be stored")


def test_pandas_without_pyarrow_names_the_extra() -> None:
    code = textwrap.dedent("""
        import sys
        sys.modules["pyarrow"] = None  # as if it were not installed
        import pandas as pd
        from dash_stash.codec import encode
        from dash_stash.errors import EncodeError
        try:
            encode({"df": pd.DataFrame({"a": [1]})}, store="table")
        except EncodeError as exc:
            print(exc)
        print(encode({"a": [1, 2]}).codec, encode({"d": __import__("datetime").date.today()}).codec)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [
        "table[\"df\"]: storing a pandas DataFrame needs pyarrow: pip install 'dash-stash[pandas]'",
        "json typed",
    ]


# ---- damaged records ------------------------------------------------------------------------


def typed_record(tree: Any, blobs: tuple[bytes, ...] = ()) -> Encoded:
    writer = Writer()
    for blob in blobs:
        writer.add_bytes(blob)
    return Encoded("typed", writer.finish(tree))


def corrupt(encoded: Encoded) -> str:
    with pytest.raises(CorruptRecordError) as info:
        decode(encoded)
    return str(info.value)


@pytest.mark.parametrize(
    "encoded, words",
    [
        (Encoded("pickle", b"\x80\x04K\x01."), "unknown codec 'pickle'"),
        (Encoded("json", b"{nope"), "not valid JSON"),
        (Encoded("typed", b""), "bad magic"),
        (Encoded("typed", b"PK\x03\x04" + bytes(20)), "bad magic"),
        (Encoded("typed", MAGIC + b"{}" + (10**6).to_bytes(8, "little")), "outside the record"),
        (Encoded("typed", MAGIC + b"{]" + (2).to_bytes(8, "little")), "not valid JSON"),
        (Encoded("typed", MAGIC + b"[]" + (2).to_bytes(8, "little")), "lacks the value"),
        (typed_record({"__ds__": "pickle", "v": "x"}), "unknown tag 'pickle'"),
        (typed_record({"__ds__": "bytes", "b": 3}, (b"abc",)), "no blob number 3"),
        (typed_record({"__ds__": "float", "v": "1e999"}), "bad float"),
        (typed_record({"__ds__": "enum", "cls": "os:system", "v": "ls"}), "not an Enum class"),
        (typed_record({"__ds__": "enum", "cls": "builtins:dict", "v": []}), "not an Enum class"),
        (typed_record({"__ds__": "enum", "cls": "no_such_module_x:E", "v": 1}), "no_such_module_x"),
        (
            typed_record({"__ds__": "ndarray", "dtype": "|O", "shape": [1], "b": 0}, (bytes(8),)),
            "bad array dtype",
        ),
        (
            typed_record({"__ds__": "ndarray", "dtype": "<f8", "shape": [3], "b": 0}, (bytes(8),)),
            "expected 24",
        ),
        (
            typed_record(
                {"__ds__": "ndarray", "dtype": "<f8", "shape": [1], "b": 0, "z": "rot13"},
                (bytes(8),),
            ),
            "unknown compression",
        ),
        (typed_record({"__ds__": "pandas.DataFrame", "b": 0}, (b"not arrow",)), "cannot be read"),
        (
            typed_record({"__ds__": "polars.DataFrame", "b": 0}, (b"not arrow either",)),
            "cannot be read",
        ),
    ],
)
def test_damaged_records_raise_corrupt_record_error(encoded: Encoded, words: str) -> None:
    assert words in corrupt(encoded)


def test_spans_must_lie_inside_the_record() -> None:
    good = typed_record({"__ds__": "bytes", "b": 0}, (b"abc",)).data
    size = int.from_bytes(good[-8:], "little")
    header = orjson.loads(good[-8 - size : -8])
    for span in ([0, 3], [8, 10**6], [8, -1], ["8", 3]):  # the magic, past the end, nonsense
        head = orjson.dumps({**header, "b": [span]})
        bad = good[: -8 - size] + head + len(head).to_bytes(8, "little")
        assert "outside the record" in corrupt(Encoded("typed", bad))


def test_a_forged_column_kind_is_refused() -> None:
    """A frame's column kinds (dtypes) are named in the header; a header naming a dtype its
    column cannot hold, a kind we do not make, or a column that is not there, is a damaged
    record, not a frame, whether the frame would be copied or a view of a file read."""
    n = np.arange(300_000)
    df = pd.DataFrame(
        {
            "n": pd.array(n % 7, dtype="Int64"),
            "x": 0.5,
            "t": pd.Series(n.astype("M8[ns]")).dt.tz_localize("UTC"),
        }
    )
    good = bytes(encode(df).data)
    size = int.from_bytes(good[-8:], "little")
    header = orjson.loads(good[-8 - size : -8])
    assert header["v"]["kinds"] == [["M", "Int64"], ["D", "<f8"], ["T", "datetime64[ns, UTC]"]]
    n, x, t = header["v"]["kinds"]
    for kinds in (
        [["M", "float64"], x, t],  # not a nullable dtype
        [["D", "|O"], x, t],  # object: would need Python objects
        [n, ["D", "<f4"], t],  # 4 bytes a value where 8 are stored
        [n, ["D", "<M8[ns]"], t],  # floats read as datetimes
        [n, x, ["D", "<f8"]],  # datetimes read as floats
        [n, ["X", "<f8"], t],
        [n, x, t, x],  # a column that is not there
        [n, x],  # a column the kinds do not name
        [n, x, ["T", "Int64"]],
        "D",
    ):
        head = orjson.dumps({**header, "v": {**header["v"], "kinds": kinds}})
        bad = good[: -8 - size] + head + len(head).to_bytes(8, "little")
        corrupt(Encoded("typed", bad))
        with pytest.raises(CorruptRecordError):
            decode(Encoded("typed", memoryview(bytearray(bad))), own=True)
    for span in ([0, 10, 0], [0, 300_001, 1], [0, "3", 1]):  # rows the columns do not have
        head = orjson.dumps({**header, "v": {**header["v"], "range": span}})
        bad = good[: -8 - size] + head + len(head).to_bytes(8, "little")
        corrupt(Encoded("typed", bad))


def test_a_forged_nullable_column_entry_is_refused() -> None:
    """A large frame with an object column (so not in the direct form) names its nullable
    columns in the header; a header naming a dtype that is not nullable, or a column that is
    not there, is a damaged record, not a frame."""
    n = np.arange(300_000)
    df = pd.DataFrame(
        {
            "n": pd.array(n % 7, dtype="Int64"),
            "x": 0.5,
            "s": pd.Series(["a"] * len(n), dtype=object),
        }
    )
    good = bytes(encode(df).data)
    size = int.from_bytes(good[-8:], "little")
    header = orjson.loads(good[-8 - size : -8])
    assert header["v"]["masked"] == [[0, "Int64"]]
    for masked in ([[0, "float64"]], [[0, "object"]], [[5, "Int64"]], [["0", "Int64"]]):
        head = orjson.dumps({**header, "v": {**header["v"], "masked": masked}})
        bad = good[: -8 - size] + head + len(head).to_bytes(8, "little")
        corrupt(Encoded("typed", bad))
        with pytest.raises(CorruptRecordError):
            decode(Encoded("typed", memoryview(bytearray(bad))), own=True)


def test_forged_strings_and_categories_are_refused() -> None:
    """A direct frame's string and categorical columns are named in the header with their
    categories apart; codes outside the categories (pandas would index past them), a string
    kind we do not make, categories that are not unique or not there, are a damaged record."""
    n = np.arange(300_000)
    df = pd.DataFrame(
        {
            "s": np.array(["a", "bb", "ccc"])[n % 3],
            "c": pd.Categorical(np.array(["x", "y"])[n % 2]),
            "k": pd.Categorical(n % 3, categories=[0, 1, 2], ordered=True),
        }
    )
    good = bytes(encode(df).data)
    size = int.from_bytes(good[-8:], "little")
    header = orjson.loads(good[-8 - size : -8])
    s, c, k = header["v"]["kinds"]
    assert s == ["S", "str"] and c == ["C", "|i1"] and k == ["C", "|i1"]
    assert equal(decode(Encoded("typed", good)), df)
    cats = header["v"]["categories"]
    one = cats["1"]  # the categories of "c": two strings
    forged = [
        {"kinds": [["S", "object"], c, k]},
        {"kinds": [["S", "<i8"], c, k]},  # numbers read as strings
        {"kinds": [s, ["C", "<f8"], k]},  # codes that are not integers
        {"kinds": [s, ["C", "<i8"], k]},  # 8 bytes a code where 1 is stored
        {"categories": {"2": cats["2"]}},  # a categorical column without its categories
        {"categories": {**cats, "2": cats["1"]}},  # codes 0-2 for categories of two: past them
        {"categories": {**cats, "1": {**one, "kind": ["D", "<f8"]}}},
        {"categories": {**cats, "1": {**one, "kind": ["X", "str"]}}},
        {"categories": {**cats, "1": {**one, "b": 99}}},
        {"categories": {**cats, "1": "x"}},
    ]
    for change in forged:
        head = orjson.dumps({**header, "v": {**header["v"], **change}})
        bad = good[: -8 - size] + head + len(head).to_bytes(8, "little")
        corrupt(Encoded("typed", bad))
        with pytest.raises(CorruptRecordError):
            decode(Encoded("typed", memoryview(bytearray(bad))), own=True)


SAMPLE = {
    "when": date(2024, 1, 1),
    "t": (1, "a"),
    "arr": np.arange(12.0).reshape(3, 4),
    "df": pd.DataFrame(
        {"a": [1.5, None], "s": ["x", None], "c": pd.Categorical(["u", "v"])},
        index=pd.Index([3, 4], name="k"),
    ),
    "series": pd.Series([1, 2], name="n"),
    "b": b"\x00\x01",
    "direct": pd.DataFrame(  # numbers, nullable, tz-aware, strings, categories: direct
        {
            "x": [1.5, 2.5],
            "n": pd.array([1, None], dtype="Int64"),
            "s": pd.array(["p", None], dtype="str"),
            "c": pd.Categorical(["u", None]),
        }
    ).assign(t=pd.Timestamp("2024-01-01", tz="UTC")),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_damage_is_reported_never_a_crash(data: st.DataObject) -> None:
    record = bytearray(encode(SAMPLE).data)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(record) - 1))
        record[where] = data.draw(st.integers(0, 255))
    cut = data.draw(st.none() | st.integers(0, len(record)))
    damaged = Encoded("typed", bytes(record[:cut]))
    with contextlib.suppress(CorruptRecordError):  # a flipped byte in a number still reads
        decode(damaged)
    with contextlib.suppress(CorruptRecordError):  # as a file read: frames share its buffer
        decode(Encoded("typed", memoryview(bytearray(record[:cut]))), own=True)


@pytest.mark.parametrize(
    "value",
    [
        pl.DataFrame({"a": [1, 2, None], "s": ["x", "y", None]}),
        {"d": date(2024, 1, 1), "s": {1, 2}, "n": np.float32(2.5)},
    ],
)
def test_every_truncation_is_reported(value: Any) -> None:
    data = encode(value).data
    for cut in range(len(data)):
        corrupt(Encoded("typed", data[:cut]))
