"""Tables and arrays as blobs: pandas and pyarrow through Arrow IPC, polars through its own
Arrow IPC writer, numpy arrays as raw bytes with their dtype and shape. No pickle anywhere.

pandas, polars, pyarrow and numpy are optional: nothing here imports them until a value of
theirs is met (their modules are then loaded already), so the JSON path never pays for them.

pandas: the body goes through ``pyarrow.Table.from_pandas(preserve_index=None)``, which keeps
a RangeIndex as metadata and any other row index as columns, and the pandas metadata restores
dtypes (categorical, tz-aware datetimes, nullable ints, strings...). The parts Arrow's pandas
metadata gets wrong are kept by us: column labels go through a table of their own (so integer,
bool, mixed and duplicate labels and a RangeIndex of columns come back as they were), index and
column names go through the typed tree (non-string names stay), object-dtype string columns
are turned back into object dtype, and a DatetimeIndex keeps its ``freq``. Cells that are lists
come back as numpy arrays (Arrow's reading); object columns Arrow cannot type are an error.

Placeholders (``b`` is a blob index, ``z`` the compression of an array blob, if any):

    ndarray             dtype: numpy dtype string ("<f8", "<M8[ns]", "<U3"), shape, b, z
    npscalar            dtype, v: the scalar's bytes in hex
    pandas.DataFrame    b: the body, Arrow IPC stream with pandas metadata and positional
                        column names; index: {names, objects, freq}; columns: the same for the
                        column labels, which are in c (a one-index Arrow table) or in labels
                        (a list, when Arrow cannot type them); objects: object-dtype columns;
                        masked: [[position, dtype], ...] nullable columns of a large frame, whose
                        values are column "<position>" and whose mask is column "m<position>"
                        (float and bool data as integers of their width, see `_body`)
    pandas.Series       b, index, objects, masked as above; name: the Series name
    polars.DataFrame, polars.Series, pyarrow.Table      b: Arrow IPC stream

pandas scalars (Timestamp, Timedelta, NaT, NA) are here too, so that pandas is in one place:

    pandas.Timestamp    v: int, unit, tz              pandas.Timedelta    v: int, unit
    pandas.NaT, pandas.NA                             (no fields)

This module plugs itself into `typed` (`typed.register_module`, `typed.register`) when it is
imported; `typed` never imports it. Large tables and arrays are compressed only when the
stash's `compression.Compression` setting asks (off by default; see `compression`).
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable
from typing import Any

from . import typed
from .buffers import LARGE, allocate
from .compression import SAMPLE, Compression, squeeze, unsqueeze
from .envelope import TAG, BadRecord, Unstorable
from .typed import Dumper, Loader, load_zone, zone

_ARRAY_KINDS = "biufcmMUS"  # bool, ints, floats, complex, datetime64, timedelta64, fixed str
_ARROW_ERRORS: tuple[type[BaseException], ...] = (TypeError, ValueError, NotImplementedError)


def dump(v: Any, d: Dumper) -> dict | None:
    """The placeholder for a numpy, pandas, polars or pyarrow value; None if not ours."""
    root = type(v).__module__.partition(".")[0]
    if root == "numpy":
        return _dump_numpy(v, d)
    if root == "pandas":
        return _dump_pandas(v, d)
    if root == "polars":
        return _dump_polars(v, d)
    if root == "pyarrow":
        pa = _pyarrow(v, "pandas")
        if isinstance(v, pa.Table):
            return {TAG: "pyarrow.Table", "b": _write_table(v, d, pa)}
    return None


# ---- numpy ----------------------------------------------------------------------------------


def _dump_numpy(v: Any, d: Dumper) -> dict | None:
    import numpy as np

    if isinstance(v, np.generic):
        if v.dtype.kind not in _ARRAY_KINDS:
            raise Unstorable(
                v,
                f"a numpy scalar of dtype {v.dtype} is not storable; convert it "
                "to a Python value (.item()) first.",
            )
        return {TAG: "npscalar", "dtype": v.dtype.str, "v": v.tobytes().hex()}
    if not isinstance(v, np.ndarray):
        return None
    if isinstance(v, np.ma.MaskedArray):
        raise Unstorable(
            v,
            "a numpy masked array is not storable; store arr.filled(...) and "
            "arr.mask as two arrays, or use a DataFrame with nullable dtypes.",
        )
    if v.dtype.kind not in _ARRAY_KINDS or v.dtype.fields is not None:
        raise Unstorable(
            v,
            f"a numpy array of dtype {v.dtype} is not storable (object and "
            "structured arrays would need pickle); convert it to a numeric, bool, "
            "datetime64, timedelta64 or string dtype, to a DataFrame, or to a "
            "list.",
        )
    a = v if type(v) is np.ndarray and v.flags.c_contiguous else np.array(v, order="C")
    raw = memoryview(a.reshape(-1).view(np.uint8))
    codec, data = squeeze(raw, d.compression)
    node = {
        TAG: "ndarray",
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "b": d.writer.add_bytes(data),  # `a` (a copy, or the caller's array) is kept till finish
    }
    if codec:
        node["z"] = codec
    return node


def _load_ndarray(ld: Loader, node: dict) -> Any:
    import numpy as np

    dtype = np.dtype(node["dtype"])
    shape = tuple(node["shape"])
    if dtype.kind not in _ARRAY_KINDS or not all(type(n) is int and n >= 0 for n in shape):
        raise BadRecord(f"bad array dtype {node['dtype']!r} or shape {node['shape']!r}")
    raw: Any = ld.blob(node["b"])
    if node.get("z"):
        raw = unsqueeze(node["z"], raw)
    count = math.prod(shape)
    if len(raw) != count * dtype.itemsize:
        raise BadRecord(f"array data is {len(raw)} bytes, expected {count * dtype.itemsize}")
    if not len(raw):
        return np.zeros(shape, dtype)
    a = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)
    return a if a.flags.writeable else a.copy()  # callbacks may change what they read


def _load_npscalar(ld: Loader, node: dict) -> Any:
    import numpy as np

    dtype = np.dtype(node["dtype"])
    if dtype.kind not in _ARRAY_KINDS:
        raise BadRecord(f"bad scalar dtype {node['dtype']!r}")
    return np.frombuffer(bytes.fromhex(node["v"]), dtype=dtype)[0]


# ---- Arrow IPC ------------------------------------------------------------------------------


def _pyarrow(v: Any, extra: str) -> Any:
    try:
        import pyarrow as pa
        import pyarrow.ipc  # noqa: F401
    except ImportError:
        raise Unstorable(
            v,
            f"storing a {type(v).__module__.partition('.')[0]} "
            f"{type(v).__name__} needs pyarrow: pip install "
            f"'dash-stash[{extra}]'",
        ) from None
    return pa


def _pyarrow_for_reading(extra: str) -> Any:
    try:
        import pyarrow as pa
        import pyarrow.ipc  # noqa: F401
    except ImportError:
        raise BadRecord(
            f"reading this record needs pyarrow: pip install 'dash-stash[{extra}]'"
        ) from None
    return pa


def _write_table(table: Any, d: Dumper, pa: Any) -> int:
    """Add `table` as an Arrow IPC stream. Uncompressed, its size is counted first (no data is
    copied for that) and the stream is written once, into its place in the record or straight
    to the sink the record goes to (Arrow hands the columns' own buffers over, no copy);
    compressed, it goes through an Arrow buffer of the (smaller) compressed size."""
    compression = _table_compression(table, d.compression, pa)
    options = pa.ipc.IpcWriteOptions(compression=compression)

    def write(sink: Any) -> None:
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            if table.num_rows:
                writer.write_table(table)
            else:  # an empty table writes no batch, and so no dictionary: categories would go
                writer.write_batch(
                    pa.RecordBatch.from_arrays(
                        [
                            c.chunk(0) if c.num_chunks else pa.array([], c.type)
                            for c in table.columns
                        ],
                        schema=table.schema,
                    )
                )

    if compression:
        sink = pa.BufferOutputStream()
        write(sink)
        return d.writer.add_bytes(sink.getvalue())
    mock = pa.MockOutputStream()
    write(mock)
    return d.writer.add(
        mock.size(), lambda out: write(pa.FixedSizeBufferWriter(pa.py_buffer(out))), write
    )


def _table_compression(table: Any, setting: Compression, pa: Any) -> str | None:
    if not setting.wanted(table.nbytes):
        return None
    sample = table.slice(0, max(1, table.num_rows * SAMPLE // table.nbytes))
    sizes = []
    for codec in (None, setting.codec):
        sink = pa.MockOutputStream()
        options = pa.ipc.IpcWriteOptions(compression=codec)
        with pa.ipc.new_stream(sink, sample.schema, options=options) as writer:
            writer.write_table(sample)
        sizes.append(sink.size())
    return setting.codec if setting.pays(*sizes) else None


def _read_table(ld: Loader, index: Any, pa: Any) -> Any:
    table = pa.ipc.open_stream(pa.py_buffer(ld.blob(index))).read_all()
    _validate(table, pa)
    return table


def _validate(table: Any, pa: Any) -> None:
    """Check every offset, index and length of `table`, so damaged ones never reach pandas.

    String columns are checked as binary (the same offsets, zero-copy): full validation would
    also check their UTF-8, which took 9 of our 10 ms for a million short strings and guards
    no memory; a bad byte would only show as a decoding error where a string is used.
    Without string columns, one call checks the whole table (40 against 2 µs for 10 columns:
    the loop's cost is Python's)."""
    strings = (pa.types.is_string, pa.types.is_large_string)
    if not any(check(kind) for kind in table.schema.types for check in strings):
        table.validate(full=True)
        return
    table.validate()
    for column in table.columns:
        for chunk in column.chunks:
            kind = chunk.type
            if pa.types.is_string(kind):
                chunk = chunk.view(pa.binary())
            elif pa.types.is_large_string(kind):
                chunk = chunk.view(pa.large_binary())
            chunk.validate(full=True)


# ---- pandas ---------------------------------------------------------------------------------


def _dump_pandas(v: Any, d: Dumper) -> dict | None:
    import numpy as np
    import pandas as pd

    if v is pd.NaT:
        return {TAG: "pandas.NaT"}
    if v is pd.NA:
        return {TAG: "pandas.NA"}
    if isinstance(v, pd.Timestamp):
        fields = {
            TAG: "pandas.Timestamp",
            "unit": v.unit,
            "v": int(v.to_datetime64().astype(np.int64)),
        }
        if v.tz is not None:
            fields["tz"] = zone(v.tz, v.utcoffset())
        return fields
    if isinstance(v, pd.Timedelta):
        return {
            TAG: "pandas.Timedelta",
            "unit": v.unit,
            "v": int(v.to_timedelta64().astype(np.int64)),
        }
    if isinstance(v, pd.DataFrame):
        pa = _pyarrow(v, "pandas")
        direct = _direct_frame(v, d, pa)
        if direct is not None:
            return direct
        return {TAG: "pandas.DataFrame", **_frame(v, v, d, pa), **_columns(v, d, pa)}
    if isinstance(v, pd.Series):
        pa = _pyarrow(v, "pandas")
        return {
            TAG: "pandas.Series",
            **_frame(v, v.to_frame(name="0"), d, pa),
            "name": d.tree(v.name),
        }
    return None


# The direct form of a frame: a RangeIndex, string labels, and columns that are each one plain
# Arrow column: numpy numbers, bools and datetimes (D below: the numpy dtype string), tz-aware
# datetimes (T: the pandas dtype, int64 data), nullable numbers and booleans (M: the pandas
# dtype; the values, then the mask as a column "m<position>"), Arrow-backed strings (S: "str"
# or "string", pandas' two pyarrow string dtypes; the large_string column as it is) and
# categoricals (C: the codes' numpy dtype; the codes as a column, the categories and
# `ordered` in "categories", a small table of their own per column, its one column in the
# form S or D). We write the Arrow columns from the pandas arrays (no copy) and read them
# back as numpy views or Arrow arrays, skipping pyarrow's pandas conversion, whose fixed cost
# (about 1.5 ms each way for 10 columns) was most of the time of a small frame, and whose
# metadata and per-column dtype parsing was half of a million-row mixed frame's read. Every
# other frame goes through `_frame` (``from_pandas`` / ``to_pandas``).
_D, _T, _M, _S, _C = "D", "T", "M", "S", "C"


def _direct_frame(df: Any, d: Dumper, pa: Any) -> dict | None:
    """The placeholder of `df` in the direct form; None when it has no direct form."""
    import numpy as np
    import pandas as pd

    index = df.index
    labels = _plain_labels(df.columns)
    if type(index) is not pd.RangeIndex or labels is None:
        return None
    kinds: list[list] = []
    arrays: dict[str, Any] = {}
    masks: dict[str, Any] = {}
    categories: dict[str, tuple[Any, list, bool]] = {}
    for i, (_, column) in enumerate(df.items()):  # cheaper than df.iloc[:, i]
        dtype, array = column.dtype, column.array
        if isinstance(dtype, np.dtype):
            if dtype.kind not in "biufmM" or not dtype.isnative:
                return None
            kinds.append([_D, dtype.str])
            arrays[str(i)] = _storable(np.asarray(array))
        elif isinstance(dtype, pd.DatetimeTZDtype):
            kinds.append([_T, str(dtype)])
            arrays[str(i)] = array.asi8
        elif _masked_type(dtype) is not None:  # pandas' masked arrays: _data and _mask
            kinds.append([_M, str(dtype)])
            arrays[str(i)] = _storable(array._data)
            masks[f"m{i}"] = array._mask.view(np.uint8)
        elif (string := _string_kind(dtype, array, pa)) is not None:
            kinds.append([_S, string])
            arrays[str(i)] = _one_chunk(array.__arrow_array__(), pa)
        elif isinstance(dtype, pd.CategoricalDtype):
            kept = _categories_table(dtype, pa)
            if kept is None:
                return None
            kinds.append([_C, array.codes.dtype.str])
            arrays[str(i)] = array.codes
            categories[str(i)] = kept
        else:
            return None
    # Columns of one dtype side by side in the record, so that they read as one block.
    order = sorted(arrays, key=lambda name: kinds[int(name)][1])
    columns = {**{name: arrays[name] for name in order}, **masks}
    table = pa.Table.from_arrays(
        [
            a if isinstance(a, pa.Array) else pa.array(np.ascontiguousarray(a))
            for a in columns.values()
        ],
        names=list(columns),
    )
    node = {
        TAG: "pandas.DataFrame",
        "b": _write_table(table, d, pa),
        "kinds": kinds,
        "range": [index.start, index.stop, index.step],
        "index": _index_info(index, d),
        "labels": labels,
        "columns": _index_info(df.columns, d),
    }
    if categories:
        node["categories"] = {
            i: {"b": _write_table(t, d, pa), "kind": kind, "ordered": ordered}
            for i, (t, kind, ordered) in categories.items()
        }
    return node


def _string_kind(dtype: Any, array: Any, pa: Any) -> str | None:
    """The kind of a column of pandas' pyarrow strings held as Arrow large_string arrays,
    which the direct form stores as they are: "str" (NaN for missing) or "string" (NA);
    None for any other column."""
    for kind in ("str", "string"):
        if dtype == _string_dtype(kind):
            held = getattr(array, "__arrow_array__", None)
            return kind if held is not None and held().type == pa.large_string() else None
    return None


@functools.cache
def _string_dtype(kind: str) -> Any:
    """pandas' pyarrow string dtype of `kind` ("str": NaN for missing, "string": NA); None
    where this pandas cannot build that dtype, or its array from a large_string one as
    `_strings` does (older pandas: such columns keep the general path)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    try:
        dtype = pd.StringDtype("pyarrow", na_value=np.nan if kind == "str" else pd.NA)
        empty = pa.chunked_array([pa.array([], pa.large_string())])
        built = pd.arrays.ArrowStringArray(empty, dtype=dtype)
    except (TypeError, ValueError, ImportError, AttributeError):
        return None
    return dtype if built.dtype == dtype else None


def _one_chunk(column: Any, pa: Any) -> Any:
    """A chunked Arrow column as one array (no copy when it has one chunk already)."""
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks() if column.num_chunks else pa.array([], column.type)


def _categories_table(dtype: Any, pa: Any) -> tuple[Any, list, bool] | None:
    """The categories of a categorical dtype as a one-column table, the kind entry of that
    column (S or D) and `ordered`; None for categories the direct form does not hold (only
    numbers and pyarrow strings, whose Index the entry rebuilds exactly)."""
    import numpy as np
    import pandas as pd

    categories = dtype.categories
    if isinstance(categories.dtype, np.dtype) and categories.dtype.kind in "iuf":
        if type(categories) is not pd.Index or not categories.dtype.isnative:
            return None
        values = np.ascontiguousarray(categories.to_numpy())
        column, kind = pa.array(_storable(values)), [_D, categories.dtype.str]
    else:
        kind_name = _string_kind(categories.dtype, categories.array, pa)
        if kind_name is None:
            return None
        column, kind = _one_chunk(categories.array.__arrow_array__(), pa), [_S, kind_name]
    return pa.Table.from_arrays([column], names=["0"]), kind, bool(dtype.ordered)


def _plain_labels(columns: Any) -> list[str] | None:
    """The labels of a plain Index of strings (what `pd.Index(labels)` gives back, or an
    object Index of them); None for any other labels."""
    import pandas as pd

    if type(columns) is not pd.Index or not len(columns):
        return None
    if not _is_object_dtype(columns.dtype) and columns.dtype != _str_dtype():
        return None
    labels = columns.tolist()
    return labels if all(type(label) is str for label in labels) else None


@functools.cache
def _str_dtype() -> Any:
    """The dtype pandas gives an Index of strings: str in pandas 3, object before."""
    import pandas as pd

    return pd.Index([""]).dtype


def _storable(values: Any) -> Any:
    """A numpy column as an array Arrow takes without a copy or a scan (`_stored_as`)."""
    return values.view(_stored_as(values.dtype))


def _stored_as(dtype: Any) -> str:
    """The dtype a column of `dtype` is stored as: floats of 4 and 8 bytes as they are,
    everything else (bools, datetimes, float16) as integers of its width."""
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        return f"f{dtype.itemsize}"
    return f"{'u' if dtype.kind in 'bu' else 'i'}{dtype.itemsize}"


def _load_direct(ld: Loader, node: dict, pa: Any) -> Any:
    """A frame in the direct form; its columns are writable and the callback's alone: views
    of the record when the record is the caller's (`typed.load`'s `own`), else copies. Plain
    columns of one dtype become one 2-D block, as pandas keeps them (`_plain_blocks`)."""
    import numpy as np
    import pandas as pd

    body = ld.blob(node["b"])
    table = _read_table(ld, node["b"], pa)
    kinds, span = node["kinds"], node["range"]
    if not (
        isinstance(kinds, list)
        and isinstance(span, list)
        and len(span) == 3
        and all(type(n) is int for n in span)
        and span[2] != 0
    ):
        raise BadRecord("a frame's column kinds or row range are damaged")
    rows = len(range(*span))
    own = None if body.readonly else np.frombuffer(body, np.uint8)

    def numpy(name: str, dtype: Any) -> Any:
        return _column_values(_named(table, name), dtype, rows, pa)

    blocks: list[tuple[Any, list[int]]] = []
    plain: dict[str, list[int]] = {}  # dtype -> positions
    for i, entry in enumerate(kinds):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str)):
            raise BadRecord(f"bad column kind {entry!r}")
        kind, name = entry
        if kind == _D:
            if np.dtype(name).kind not in "biufmM":
                raise BadRecord(f"bad column dtype {name!r}")
            plain.setdefault(name, []).append(i)
        elif kind == _T:
            dtype = pd.api.types.pandas_dtype(name)
            if not isinstance(dtype, pd.DatetimeTZDtype):
                raise BadRecord(f"bad column dtype {name!r}")
            values = _owned(numpy(str(i), np.dtype(np.int64)), own)
            blocks.append((pd.array(values, dtype=dtype, copy=False), [i]))
        elif kind == _M:
            dtype = pd.api.types.pandas_dtype(name)
            if _masked_type(dtype) is None:
                raise BadRecord(f"bad column dtype {name!r}")
            values = _owned(numpy(str(i), dtype.numpy_dtype), own)
            mask = _owned(numpy(f"m{i}", np.dtype(bool)), own)
            blocks.append((_masked_type(dtype)(values, mask), [i]))
        elif kind == _S:
            blocks.append((_strings(_named(table, str(i)), name, rows, pa), [i]))
        elif kind == _C:
            if np.dtype(name).kind != "i":
                raise BadRecord(f"bad column dtype {name!r}")
            categories = _categories(ld, node, i, pa)
            codes = _owned(numpy(str(i), np.dtype(name)), own)
            if len(codes) and (codes.min() < -1 or codes.max() >= len(categories.categories)):
                raise BadRecord("a categorical column's codes lie outside its categories")
            blocks.append((pd.Categorical.from_codes(codes, dtype=categories, validate=False), [i]))
        else:
            raise BadRecord(f"bad column kind {entry!r}")
    for name, positions in plain.items():
        dtype = np.dtype(name)
        blocks += _plain_blocks([numpy(str(i), dtype) for i in positions], positions, own)
    if table.num_columns != len(kinds) + sum(entry[0] == _M for entry in kinds):
        raise BadRecord("a frame has columns its kinds do not name")
    labels = node["labels"]
    if not (isinstance(labels, list) and len(labels) == len(kinds)):
        raise BadRecord("a frame's labels do not match its columns")
    df = _from_blocks(blocks, pd.RangeIndex(*span), _labels(labels))
    df.index = _restore_index(df.index, node["index"], ld)
    df.columns = _restore_index(df.columns, node["columns"], ld)
    return df


def _strings(column: Any, kind: str, rows: int, pa: Any) -> Any:
    """A column of the form S as pandas' pyarrow strings over the record's bytes: Arrow
    arrays are immutable (a callback setting a cell gets a new array in its frame), so even
    a shared record needs no copy. The offsets were checked with the table (`_validate`)."""
    import pandas as pd

    dtype = _string_dtype(kind) if kind in ("str", "string") else None
    if dtype is None:
        raise BadRecord(f"bad string column kind {kind!r}")
    if len(column) != rows or column.type != pa.large_string():
        raise BadRecord("a frame's string column has the wrong length or type")
    return pd.arrays.ArrowStringArray(column, dtype=dtype)


def _categories(ld: Loader, node: dict, position: int, pa: Any) -> Any:
    """The CategoricalDtype of the categorical column at `position` of a direct frame."""
    import numpy as np
    import pandas as pd

    kept = node.get("categories")
    entry = kept.get(str(position)) if isinstance(kept, dict) else None
    if not (isinstance(entry, dict) and isinstance(entry.get("kind"), list)):
        raise BadRecord(f"a categorical column lacks its categories: {entry!r}")
    kind = entry["kind"]
    table = _read_table(ld, entry.get("b"), pa)
    if table.num_columns != 1 or len(kind) != 2 or not isinstance(kind[1], str):
        raise BadRecord(f"bad categories {kind!r}")
    column = _named(table, "0")
    if kind[0] == _S:
        values = pd.Index(_strings(column, kind[1], len(column), pa))
    elif kind[0] == _D and np.dtype(kind[1]).kind in "iuf":
        values = pd.Index(_column_values(column, np.dtype(kind[1]), len(column), pa).copy())
    else:
        raise BadRecord(f"bad categories {kind!r}")
    try:
        return pd.CategoricalDtype(values, ordered=entry.get("ordered") is True)
    except (TypeError, ValueError) as exc:  # not unique, NaN among them
        raise BadRecord(f"bad categories: {exc}") from None


def _labels(labels: list) -> Any:
    """The column labels of a direct frame as a new Index object over shared values.

    pandas makes string labels an Arrow-backed Index, which took 0.14 ms for 10 labels in a
    fresh thread (Dash may run each callback in one): a third of decoding a 1,000-row frame.
    An Index's values are immutable and `view()` gives each frame its own object (a callback
    may set `df.columns.name`), so the values are shared between the reads of one frame."""
    import pandas as pd

    if all(type(label) is str for label in labels) and len(labels) <= _SHARED_LABELS_MAX:
        return _shared_labels(tuple(labels)).view()
    return pd.Index(labels)


_SHARED_LABELS_MAX = 1000  # columns; wider frames build their labels each time


@functools.lru_cache(maxsize=64)
def _shared_labels(labels: tuple[str, ...]) -> Any:
    import pandas as pd

    return pd.Index(list(labels))


def _named(table: Any, name: str) -> Any:
    try:
        return table.column(name)
    except KeyError:
        raise BadRecord(f"a frame lacks its column {name!r}") from None


def _column_values(column: Any, dtype: Any, rows: int, pa: Any) -> Any:
    """The values of one plain Arrow column, checked, as a read-only numpy array of `dtype`
    over the record's bytes."""
    import numpy as np

    if len(column) != rows or column.null_count:
        raise BadRecord("a frame's column has the wrong length or nulls")
    if column.type != pa.from_numpy_dtype(_stored_as(dtype)):
        raise BadRecord(f"a frame's column of {column.type} cannot hold {dtype}")
    if not rows:
        return np.empty(0, dtype)
    chunk = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    offset = chunk.offset * dtype.itemsize
    return np.frombuffer(chunk.buffers()[1], dtype, count=rows, offset=offset)


def _where(values: Any, own: Any) -> int | None:
    """Where `values` (one contiguous run) start in `own` (the caller's record), if they lie
    inside it, aligned."""
    if own is None or not values.nbytes or values.ndim != 1 or not values.flags.c_contiguous:
        return None
    start = values.__array_interface__["data"][0] - own.__array_interface__["data"][0]
    inside = 0 <= start <= len(own) - values.nbytes and start % values.dtype.alignment == 0
    return start if inside else None


def _owned(values: Any, own: Any) -> Any:
    """`values` as an array of the caller's own: a writable view of `own`, else a copy."""
    start = _where(values, own)
    if start is None:
        return values.copy()
    return own[start : start + values.nbytes].view(values.dtype)


def _plain_blocks(columns: list, positions: list[int], own: Any) -> list[tuple[Any, list[int]]]:
    """pandas blocks (2-D, one row per column) holding `columns`, all of one dtype, at
    `positions`. From the caller's record: views of it, one block per run of columns that
    lie side by side in it (the writer puts columns of one dtype next to each other). Else
    one new block, each column copied into its row: the one copy a shared record needs."""
    import numpy as np

    rows, dtype = len(columns[0]), columns[0].dtype
    starts = [_where(values, own) for values in columns]
    if own is None or None in starts:
        block = np.frombuffer(allocate(len(columns) * rows * dtype.itemsize), dtype)
        block = block.reshape(len(columns), rows)
        for row, values in zip(block, columns, strict=True):
            row[:] = values
        return [(block, positions)]
    size = rows * dtype.itemsize
    blocks, first = [], 0
    for j in range(1, len(columns) + 1):
        if j == len(columns) or starts[j] != starts[j - 1] + size:
            start = starts[first]
            view = own[start : start + size * (j - first)].view(dtype).reshape(j - first, rows)
            blocks.append((view, positions[first:j]))
            first = j
    return blocks


def _from_blocks(blocks: list[tuple[Any, list[int]]], index: Any, columns: Any) -> Any:
    """A frame of these blocks as they are (no copy, no type inference): through pandas'
    `create_dataframe_from_blocks` (where pandas has it), which took a tenth of the time of
    ``pd.DataFrame(dict, copy=False)`` for 10 columns; else through that."""
    import numpy as np
    import pandas as pd

    try:
        from pandas.api.internals import create_dataframe_from_blocks
    except ImportError:  # older pandas
        arrays = {}
        for values, positions in blocks:
            rows = values if isinstance(values, np.ndarray) else [values]
            arrays.update(zip(positions, rows, strict=True))
        out = pd.DataFrame(dict(sorted(arrays.items())), index=index, copy=False)
        out.columns = columns
        return out
    return create_dataframe_from_blocks(
        [(values, np.array(positions)) for values, positions in blocks],
        index=index,
        columns=columns,
    )


def _frame(owner: Any, df: Any, d: Dumper, pa: Any) -> dict:
    """The body of a frame with positional column names; labels and names are kept apart."""
    body, floats, masked = _body(df)
    try:
        # Arrow starts a thread pool per call; for small frames that costs more than it saves.
        threads = None if len(df) * max(df.shape[1], 1) >= 1_000_000 else 1
        table = _floats_back(
            pa.Table.from_pandas(body, preserve_index=None, nthreads=threads), floats, pa
        )
    except _ARROW_ERRORS as exc:
        raise Unstorable(
            owner,
            f"this {type(owner).__name__} cannot be stored: "
            f"{_column(exc, df)}. Convert that column to a supported dtype "
            "(numbers, bool, str, datetime, category...), for example with "
            ".astype(str).",
        ) from None
    objects = [i for i, t in enumerate(df.dtypes) if _is_object_dtype(t)]
    return {
        "b": _write_table(table, d, pa),
        "index": _index_info(df.index, d),
        **({"objects": objects} if objects else {}),
        **({"masked": masked} if masked else {}),
    }


def _body(df: Any) -> tuple[Any, dict[str, Any], list]:
    """`df` with positional column names and no index names; its float columns to restore
    (`_floats_back`) and its masked columns (`_unmask`).

    pyarrow's ``from_pandas`` scans every float column for NaN to turn it into null: 4-6 ms
    per million values here, more than all the rest of the conversion. In a large frame float
    columns therefore go in as integer views of their bits (no scan, no copy) and come back as
    floats in `_floats_back`; NaN stays NaN, bit for bit, and pandas reads it as NaN as before.
    Nullable columns (Int64, Float64, boolean...) go in as their values and their mask, two
    plain columns that come back without a copy (Arrow's null bitmaps would need converting
    both ways, 3-4 ms per million values each).
    """
    import numpy as np
    import pandas as pd

    index = df.index.set_names([None] * df.index.nlevels)
    floats = {
        str(i): t
        for i, t in enumerate(df.dtypes)
        if isinstance(t, np.dtype) and t.kind == "f" and t.itemsize in (4, 8) and t.isnative
    }
    nullable = [i for i, t in enumerate(df.dtypes) if _masked_type(t) is not None]
    if len(df) * (len(floats) + len(nullable)) * 8 < LARGE:
        body = df.copy(deep=False)
        body.columns = [str(i) for i in range(df.shape[1])]
        body.index = index
        return body, {}, []
    columns, masks, masked = {}, {}, []
    for i in range(df.shape[1]):
        array = df.iloc[:, i].array
        if i in nullable:
            columns[str(i)] = _bits(array._data)  # pandas' masked arrays: _data and _mask
            masks[f"m{i}"] = array._mask.view(np.uint8)
            masked.append([i, str(array.dtype)])
        else:
            columns[str(i)] = array if str(i) not in floats else _bits(np.asarray(array))
    body = pd.DataFrame({**columns, **masks}, index=index, copy=False)
    return body, floats, masked


def _bits(values: Any) -> Any:
    """Floats and bools as integers of their width (a view): Arrow takes those as they are."""
    return values.view(f"u{values.itemsize}" if values.dtype.kind == "b" else f"i{values.itemsize}")


def _masked_type(dtype: Any) -> Any:
    """The pandas array class of a nullable dtype (Int64, Float64, boolean...), else None."""
    import pandas as pd

    kinds = (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)
    construct = getattr(dtype, "construct_array_type", None)
    kind = construct() if construct is not None else None
    return kind if kind in kinds else None


def _unmask(df: Any, masked: list) -> Any:
    """`df` with the values and mask columns of `_body` joined back into nullable columns."""
    import numpy as np
    import pandas as pd

    where = {}
    count = df.shape[1] - len(masked)
    for entry in masked:
        i, name = entry
        dtype = pd.api.types.pandas_dtype(name)
        if (
            type(i) is not int
            or not 0 <= i < count
            or f"m{i}" not in df.columns
            or _masked_type(dtype) is None
        ):
            raise BadRecord(f"bad nullable column {entry!r}")
        where[i] = dtype
    if len(where) != len(masked):
        raise BadRecord("a nullable column is named twice")
    columns = {}
    for i in range(count):
        dtype = where.get(i)
        array = df.iloc[:, i].array
        if dtype is not None:
            values = np.asarray(array).view(dtype.numpy_dtype)
            mask = np.asarray(df[f"m{i}"].array).view(bool)
            array = _masked_type(dtype)(values, mask)
        columns[i] = array
    out = pd.DataFrame(columns, index=df.index, copy=False)
    out.columns = df.columns[:count]
    return out


def _floats_back(table: Any, floats: dict[str, Any], pa: Any) -> Any:
    """Turn the integer stand-ins of `_body` back into float columns, in data and metadata."""
    if not floats:
        return table
    import json

    meta = json.loads(table.schema.metadata[b"pandas"])
    for entry in meta["columns"]:
        dtype = floats.get(entry.get("field_name"))
        if dtype is not None:
            entry["pandas_type"] = entry["numpy_type"] = dtype.name
    fields, columns = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        dtype = floats.get(field.name)
        if dtype is not None:
            kind = pa.from_numpy_dtype(dtype)
            column = pa.chunked_array([chunk.view(kind) for chunk in column.chunks], kind)
            field = field.with_type(kind)
        fields.append(field)
        columns.append(column)
    metadata = {**table.schema.metadata, b"pandas": json.dumps(meta).encode()}
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=metadata))


def _is_object_dtype(dtype: Any) -> bool:
    from pandas.api.types import is_object_dtype as check

    return bool(check(dtype))


def _column(exc: BaseException, df: Any) -> str:
    """Arrow's message, with our positional column name turned back into the user's label."""
    message = str(exc.args[0]) if exc.args else str(exc)
    for arg in exc.args[1:]:
        text = str(arg)
        if text.startswith("Conversion failed for column "):
            position = text.removeprefix("Conversion failed for column ").split(" ", 1)[0]
            if position.isdigit() and int(position) < df.shape[1]:
                label = df.columns.tolist()[int(position)]
                return f"column {label!r} (dtype {df.dtypes.iloc[int(position)]}): {message}"
    return message


def _columns(df: Any, d: Dumper, pa: Any) -> dict:
    import pandas as pd

    cols = df.columns
    try:
        table = pa.Table.from_pandas(
            pd.DataFrame(index=cols.set_names([None] * cols.nlevels)),
            preserve_index=None,
            nthreads=1,
        )
    except _ARROW_ERRORS:  # labels of mixed types: keep them one by one, as an object Index
        return {"labels": d.tree(list(cols)), "columns": _index_info(cols, d)}
    return {"c": _write_table(table, d, pa), "columns": _index_info(cols, d)}


def _index_info(index: Any, d: Dumper) -> dict:
    import pandas as pd

    info: dict[str, Any] = {"names": d.tree(list(index.names))}
    levels = index.levels if isinstance(index, pd.MultiIndex) else [index]
    objects = [i for i, level in enumerate(levels) if _is_object_dtype(level.dtype)]
    if objects:
        info["objects"] = objects
    if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)) and index.freq is not None:
        info["freq"] = index.freqstr
    return info


def _restore_index(index: Any, info: dict, ld: Loader) -> Any:
    import pandas as pd

    objects = info.get("objects", ())
    if isinstance(index, pd.MultiIndex):
        if objects:
            index = index.set_levels(
                [
                    level.astype(object) if i in objects else level
                    for i, level in enumerate(index.levels)
                ]
            )
    elif objects and not _is_object_dtype(index.dtype):
        index = index.astype(object)
    if info.get("freq"):
        index = type(index)(index, freq=info["freq"])
    names = ld.value(info["names"])
    if (
        isinstance(names, list)
        and len(names) == index.nlevels
        and all(n is None for n in [*names, *index.names])
    ):
        return index  # nothing to name, the common case: no new Index
    return index.set_names(names)


def _writable(df: Any, body: memoryview, split: bool) -> Any:
    """`df` with every column writable by the callback and shared with no one.

    ``to_pandas(split_blocks=True)`` hands numeric and datetime columns over without a copy, as
    read-only numpy views of the record. When the record is a writable buffer (the caller's
    alone: see `typed.load`) those columns become writable views of it: the read costs no copy
    beyond the backend's own. Otherwise, and for read-only extension arrays (categorical codes,
    tz-aware datetimes), the column is copied. Shared bytes are always read-only, so a miss here
    can only raise "read-only", never change someone else's value. Unless `split`, Arrow has
    copied numpy columns into new blocks already: only extension columns need a look.
    """
    import numpy as np
    import pandas as pd

    own = None if body.readonly else np.frombuffer(body, np.uint8)
    columns, changed = [], False
    dtypes = list(df.dtypes)
    if not split and all(isinstance(dtype, np.dtype) for dtype in dtypes):
        return df
    for i, dtype in enumerate(dtypes):
        array = df.iloc[:, i].array
        if isinstance(dtype, np.dtype):  # numpy-backed: plain, datetime64, timedelta64
            values = np.asarray(array)
            if not values.flags.writeable:
                values, changed = _owned(values, own), True
            columns.append(values)
        elif any(_read_only(getattr(array, name, None)) for name in _EXTENSION_PARTS):
            columns.append(array.copy())
            changed = True
        else:
            columns.append(array)
    if not changed:
        return df
    out = pd.DataFrame(dict(enumerate(columns)), index=df.index, copy=False)
    out.columns = df.columns
    return out


_EXTENSION_PARTS = ("_ndarray", "_codes", "_data", "_mask")  # pandas' arrays keep numpy here


def _read_only(part: Any) -> bool:
    flags = getattr(part, "flags", None)
    return flags is not None and not flags.writeable


def _load_pandas(ld: Loader, node: dict) -> Any:
    import pandas as pd

    pa = _pyarrow_for_reading("pandas")
    if "kinds" in node:
        return _load_direct(ld, node, pa)
    body = ld.blob(node["b"])
    table = _read_table(ld, node["b"], pa)
    objects = {i: table.column(str(i)) for i in node.get("objects", ())}
    # A large record that is ours: one block per column, so that columns can be views of it.
    # Otherwise Arrow copies the columns into new blocks, the one copy a shared record needs.
    split = table.nbytes >= LARGE and not body.readonly
    df = _writable(table.to_pandas(split_blocks=split, self_destruct=True), body, split)
    del table  # self_destruct: the table is gone; `objects` keeps its own columns alive
    if node.get("masked"):
        df = _unmask(df, node["masked"])
    for i, column in objects.items():
        if not _is_object_dtype(df.dtypes.iloc[i]):  # strings come back as str dtype in pandas 3
            # (a Series of dtype object: pandas 3 would infer str again from a bare array)
            values = column.to_numpy(zero_copy_only=False)
            df.isetitem(i, pd.Series(values, index=df.index, dtype=object, copy=False))
    df.index = _restore_index(df.index, node["index"], ld)
    if node[TAG] == "pandas.Series":
        series = df.iloc[:, 0]
        series.name = ld.value(node["name"])
        return series
    if "c" in node:
        cols = _read_table(ld, node["c"], pa).to_pandas().index
    else:
        labels = ld.value(node["labels"])
        cols = (
            pd.MultiIndex.from_tuples(labels)
            if labels and isinstance(labels[0], tuple) and len(node["columns"]["names"]) > 1
            else pd.Index(labels, dtype=object, tupleize_cols=False)
        )
    df.columns = _restore_index(cols, node["columns"], ld)
    return df


# ---- copies that share nothing --------------------------------------------------------------


def copier(value: Any) -> Callable[[], Any] | None:
    """A function that makes new copies of `value` sharing nothing writable with it, when one
    copy is cheap and complete; else None. Holds for numpy arrays of numbers, bools and
    datetimes, and for DataFrames whose every column is one (or tz-aware datetimes, nullable
    numbers or booleans: numpy inside): copying their blocks copies everything a callback can
    change (an Index is immutable, and each copy gets its own Index objects, so its names
    are its own). Columns of strings, objects or categories give None: a deep copy would
    still share Python objects, and decoding them is not a fixed cost worth skipping."""
    root = type(value).__module__.partition(".")[0]
    if root == "numpy":
        import numpy as np

        if type(value) is np.ndarray and value.dtype.kind in _COPIED_KINDS:
            return value.copy
        return None
    if root != "pandas":
        return None
    import numpy as np
    import pandas as pd

    if type(value) is not pd.DataFrame or not _plain_axis(value.index):
        return None
    if not _plain_axis(value.columns):
        return None
    for dtype in value.dtypes:
        if isinstance(dtype, np.dtype):
            if dtype.kind not in _COPIED_KINDS:
                return None
        elif not isinstance(dtype, pd.DatetimeTZDtype) and _masked_type(dtype) is None:
            return None
    return functools.partial(value.copy, deep=True)


_COPIED_KINDS = "biufcmM"  # numpy kinds whose values are plain bytes


def _plain_axis(index: Any) -> bool:
    """An index whose labels and names hold no mutable Python object: a RangeIndex, or one
    level of numbers, datetimes or strings."""
    import pandas as pd

    if type(index) is pd.RangeIndex:
        return True
    if isinstance(index, pd.MultiIndex):
        return False
    labels = index.dtype.kind in _COPIED_KINDS or index.dtype == _str_dtype()
    if not labels and _is_object_dtype(index.dtype):
        labels = all(type(label) is str for label in index)
    return labels and all(name is None or type(name) is str for name in index.names)


# ---- polars ---------------------------------------------------------------------------------


def _dump_polars(v: Any, d: Dumper) -> dict | None:
    import polars as pl

    if isinstance(v, pl.LazyFrame):
        raise Unstorable(
            v, "a polars LazyFrame is a query, not data; call .collect() on it before returning it."
        )
    if not isinstance(v, (pl.DataFrame, pl.Series)):
        return None
    frame = v if isinstance(v, pl.DataFrame) else v.to_frame()
    bad = [name for name, dtype in frame.schema.items() if dtype == pl.Object]
    if bad:
        raise Unstorable(
            v,
            f"polars column {bad[0]!r} has dtype Object, which is not storable "
            "(it would need pickle); convert it to a supported dtype first.",
        )
    compression = _polars_compression(frame, d.compression)
    tag = "polars.DataFrame" if frame is v else "polars.Series"
    sink = io.BytesIO()
    frame.write_ipc_stream(sink, compression=compression)
    return {TAG: tag, "b": d.writer.add_bytes(sink.getbuffer())}


def _polars_compression(frame: Any, setting: Compression) -> str:
    size = frame.estimated_size()
    if not setting.wanted(size) or not frame.height:
        return "uncompressed"
    sample = frame.head(max(1, frame.height * SAMPLE // size))
    sizes = []
    for codec in ("uncompressed", setting.codec):
        buf = io.BytesIO()
        sample.write_ipc_stream(buf, compression=codec)
        sizes.append(buf.tell())
    return str(setting.codec) if setting.pays(*sizes) else "uncompressed"


def _load_polars(ld: Loader, node: dict) -> Any:
    import polars as pl

    frame = pl.read_ipc_stream(io.BytesIO(ld.blob(node["b"])))
    return frame.to_series(0) if node[TAG] == "polars.Series" else frame


def _load_arrow_table(ld: Loader, node: dict) -> Any:
    return _read_table(ld, node["b"], _pyarrow_for_reading("pandas"))


def _load_pandas_scalar(ld: Loader, node: dict) -> Any:
    import numpy as np
    import pandas as pd

    tag = node[TAG]
    if tag == "pandas.NaT":
        return pd.NaT
    if tag == "pandas.NA":
        return pd.NA
    if tag == "pandas.Timedelta":
        return pd.Timedelta(np.timedelta64(node["v"], node["unit"]))
    ts = pd.Timestamp(np.datetime64(node["v"], node["unit"]))
    tz = load_zone(node.get("tz"))
    return ts if tz is None else ts.tz_localize("UTC").tz_convert(tz)


_LOADERS: dict[str, typed.Load] = {
    "ndarray": _load_ndarray,
    "npscalar": _load_npscalar,
    "pandas.DataFrame": _load_pandas,
    "pandas.Series": _load_pandas,
    "polars.DataFrame": _load_polars,
    "polars.Series": _load_polars,
    "pyarrow.Table": _load_arrow_table,
    "pandas.Timestamp": _load_pandas_scalar,
    "pandas.Timedelta": _load_pandas_scalar,
    "pandas.NaT": _load_pandas_scalar,
    "pandas.NA": _load_pandas_scalar,
}
for _tag, _load in _LOADERS.items():
    typed.register(_tag, _load)
for _root in ("numpy", "pandas", "polars", "pyarrow"):
    typed.register_module(_root, dump)


# ---- equality -------------------------------------------------------------------------------


def equal(a: Any, b: Any) -> bool | None:
    """Content equality of two tables or arrays of one type (NaN equals NaN in the same place,
    dtypes, index and names must match); None when `a` is not one of ours."""
    root = type(a).__module__.partition(".")[0]
    if root == "numpy":
        import numpy as np

        if isinstance(a, np.ndarray):
            return (
                a.dtype == b.dtype
                and a.shape == b.shape
                and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fcmM"))
            )
        if isinstance(a, np.generic):
            return a.dtype == b.dtype and bool(a == b or (a != a and b != b))
    elif root == "pandas":
        import pandas as pd

        if isinstance(a, pd.DataFrame):
            return (
                a.shape == b.shape
                and list(a.dtypes) == list(b.dtypes)
                and _same_index(a.index, b.index)
                and _same_index(a.columns, b.columns)
                and bool(a.equals(b))
            )
        if isinstance(a, pd.Series):
            return (
                len(a) == len(b)
                and a.dtype == b.dtype
                and _same_labels([a.name], [b.name])
                and _same_index(a.index, b.index)
                and bool(a.equals(b))
            )
    elif root == "polars":
        import polars as pl

        if isinstance(a, pl.DataFrame):
            return a.schema == b.schema and a.equals(b, null_equal=True)
        if isinstance(a, pl.Series):
            return a.equals(b, check_dtypes=True, check_names=True, null_equal=True)
    elif root == "pyarrow":
        return bool(a.equals(b))
    return None


def _same_index(x: Any, y: Any) -> bool:
    """Index equality down to class, dtypes, names and freq (``Index.equals`` checks values)."""
    return (
        type(x) is type(y)
        and _dtypes(x) == _dtypes(y)
        and _same_labels(x.names, y.names)
        and getattr(x, "freq", None) == getattr(y, "freq", None)
        and bool(x.equals(y))
    )


def _dtypes(index: Any) -> list:
    return list(getattr(index, "dtypes", [index.dtype]))  # a MultiIndex has one per level


def _same_labels(x: list, y: list) -> bool:
    try:
        return bool(list(x) == list(y))
    except (TypeError, ValueError):
        return False
