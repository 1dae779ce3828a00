"""What the inspectors show: stores, their versions, values, diffs and conflicts.

One data model for the three ways to look at stores: `dash-stash inspect` in a terminal, the
"Stores" panel in Dash's dev tools and the operator page (`inspector.py`), and the apps' own
`history()` / `restore()` (undo buttons, audit views). It reads a backend and never writes,
except `restore`, which commits an old version as a new one.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import orjson

from . import codec
from .backends import Backend, Record, StoreKey
from .backends.base import Head
from .errors import StashError

TREE_CHILDREN = 100  # children of one node of the value tree sent at a time
TABLE_ROWS = 10  # first rows of a table shown
TEXT_CHARS = 2000  # of a long string shown
DIFF_CHANGES = 500  # changes listed between two versions


class InspectError(StashError):
    """What was asked for is not there: a version no longer kept, a path not in the value."""


def row_json(head: Head) -> dict:
    """One store as the panel lists it: its latest version, writer, size, life."""
    return {
        "id": head.key.store_id,
        "version": head.version,
        "size": head.size,
        "size_text": size_text(head.size),
        "writer": head.writer,
        "kind": head.kind,
        "updated": head.updated,
        "updated_text": when(head.updated),
        "expires": head.expires,
        "expires_text": expires_text(head.expires),
    }


@dataclass(frozen=True)
class Version:
    """One version of a store's history: who wrote it, when, and how."""

    version: int
    updated: float
    writer: str
    kind: str  # "replace", "patch", "merge", "restore" ("" : written before 0.2 / layout data)
    size: int
    details: dict  # merge: base, theirs, theirs_writer, conflicts; restore: from

    @classmethod
    def of(cls, record: Record) -> Version:
        details = orjson.loads(record.details) if record.details else {}
        return cls(
            record.version,
            record.updated,
            record.writer,
            record.kind,
            record.value.size,
            details,
        )

    @property
    def conflicts(self) -> list[dict]:
        """What a merge's policy settled: path, base/ours/theirs (short JSON texts), kept."""
        return list(self.details.get("conflicts", []))

    def as_json(self) -> dict:
        return {
            "version": self.version,
            "updated": self.updated,
            "updated_text": when(self.updated),
            "writer": self.writer,
            "kind": self.kind,
            "size": self.size,
            "size_text": size_text(self.size),
            "details": self.details,
        }


def rows(backend: Backend, keys: list[StoreKey]) -> list[Head]:
    """The live stores among `keys`, without their values; never extends a store's life."""
    found = (backend.head(key) for key in keys)
    return [head for head in found if head is not None]


def versions(backend: Backend, key: StoreKey) -> list[Version]:
    """The latest version and the older ones kept, newest first (empty if the key is gone)."""
    latest = backend.read(key)
    if latest is None:
        return []
    return [Version.of(record) for record in [latest, *backend.history(key)]]


def record_at(backend: Backend, key: StoreKey, version: int | None = None) -> Record:
    """One version's record (the latest when `version` is None)."""
    latest = backend.read(key)
    if latest is None:
        raise InspectError(f"{key.store_id}: the store has expired or was cleared")
    if version is None or version == latest.version:
        return latest
    for record in backend.history(key):
        if record.version == version:
            return record
    kept = [latest.version, *(r.version for r in backend.history(key))]
    raise InspectError(
        f"{key.store_id}: version {version} is not kept (kept: {', '.join(map(str, kept))}); "
        "keep more with dash_stash.init(app, retention=Retention(versions=...))"
    )


def is_secret(key: StoreKey) -> bool:
    """The record holding the app's token secret: listed, never shown."""
    return key.scope == "app" and key.store_id == "secret"


# ---- values --------------------------------------------------------------------------------


def describe(value: Any) -> str:
    """JSON, pretty; tables and arrays by type and shape; other typed values as text."""
    top = _shape(value)
    if top is not None and hasattr(value, "columns"):
        columns = [f"  {name}: {dtype}" for name, dtype in _dtypes(value).items()]
        return "\n".join([top, "columns:", *columns])
    if top is not None:
        return top
    return orjson.dumps(
        value, default=_shape_or_text, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    ).decode()


def tree(value: Any, path: list | None = None, *, offset: int = 0) -> dict:
    """The node of `value` at `path`, with at most `TREE_CHILDREN` children from `offset`.

    Children are summaries (type, length, short preview); the panel asks for a child's
    own node when it is opened, so a large value is never sent at once.
    """
    for step in path or []:
        try:
            value = value[step] if isinstance(value, (dict, list)) else _no_child(step)
        except (KeyError, IndexError, TypeError):
            raise InspectError(f"no {step!r} at this place of the value") from None
    node = summary(value)
    if isinstance(value, (dict, list)):
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        window = items[offset : offset + TREE_CHILDREN]
        node["children"] = [{"key": k, **summary(v)} for k, v in window]
        node["offset"] = offset
        node["more"] = max(0, len(items) - offset - len(window))
    elif hasattr(value, "columns") and _shape(value) is not None:
        node["dtypes"] = {str(k): str(v) for k, v in _dtypes(value).items()}
        node["rows"] = _head(value)
    return node


def summary(value: Any) -> dict:
    """What a tree shows of a value before it is opened."""
    if isinstance(value, dict):
        return {"type": "dict", "length": len(value), "preview": f"{{{len(value)} keys}}"}
    if isinstance(value, list):
        return {"type": "list", "length": len(value), "preview": f"[{len(value)} items]"}
    if isinstance(value, str):
        text = value if len(value) <= TEXT_CHARS else value[:TEXT_CHARS] + "…"
        return {"type": "str", "length": len(value), "preview": orjson.dumps(text).decode()}
    if value is None or isinstance(value, (bool, int, float)):
        return {"type": "json", "preview": orjson.dumps(value).decode()}
    shape = _shape(value)
    if shape is not None:
        table = hasattr(value, "columns")
        return {
            "type": "table" if table else "array",
            "shape": list(value.shape),
            "preview": shape,
        }
    return {"type": "other", "preview": short(value)}


def short(value: Any, limit: int = 200) -> str:
    """A value as one short line of JSON (typed values by their shape or text)."""
    try:
        text = orjson.dumps(value, default=_shape_or_text, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def diff(old: Any, new: Any, path: tuple = ()) -> list[dict]:
    """What changed from `old` to `new`, path by path: added, removed, changed.

    Dicts compare key by key and lists index by index; any other values (tables, arrays)
    compare whole. At most `DIFF_CHANGES` changes are listed.
    """
    changes: list[dict] = []
    _diff(old, new, path, changes)
    return changes[:DIFF_CHANGES]


def _diff(old: Any, new: Any, path: tuple, out: list[dict]) -> None:
    if len(out) >= DIFF_CHANGES:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for k in old:
            if k not in new:
                out.append({"path": [*path, k], "op": "removed", "old": short(old[k])})
            else:
                _diff(old[k], new[k], (*path, k), out)
        for k in new:
            if k not in old:
                out.append({"path": [*path, k], "op": "added", "new": short(new[k])})
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(min(len(old), len(new))):
            _diff(old[i], new[i], (*path, i), out)
        for i in range(len(new), len(old)):
            out.append({"path": [*path, i], "op": "removed", "old": short(old[i])})
        for i in range(len(old), len(new)):
            out.append({"path": [*path, i], "op": "added", "new": short(new[i])})
        return
    if type(old) is not type(new) or not codec.equal(old, new):
        out.append({"path": list(path), "op": "changed", "old": short(old), "new": short(new)})


def _no_child(step: Any) -> Any:
    raise KeyError(step)


def _dtypes(value: Any) -> dict:
    dtypes = value.dtypes
    if hasattr(dtypes, "items"):  # pandas: name -> dtype
        return dict(dtypes.items())
    return dict(zip(value.columns, dtypes, strict=True))  # polars: a list in column order


def _head(value: Any) -> list[dict]:
    head = value.head(TABLE_ROWS)
    if hasattr(head, "to_dicts"):  # polars
        records = head.to_dicts()
    else:  # pandas
        records = head.reset_index(drop=True).to_dict(orient="records")
    return [{str(k): short(v, 80) for k, v in row.items()} for row in records]


def _shape(value: Any) -> str | None:
    shape = getattr(value, "shape", None)
    if not isinstance(shape, tuple) or shape == ():  # () : a numpy scalar, printed as text
        return None
    kind = f"{type(value).__module__.split('.')[0]}.{type(value).__name__}"
    dtype = getattr(value, "dtype", None)
    return f"<{kind} shape {shape}{f' dtype {dtype}' if dtype is not None else ''}>"


def _shape_or_text(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value):,} bytes>"
    return _shape(value) or str(value)


# ---- sessions and text ---------------------------------------------------------------------


def session_label(session: str) -> str:
    """A browser session as inspectors show it. Keys hold a keyed hash of the session id
    (`Signer.session_key`), never the cookie, so showing it lets nobody act as that browser."""
    return session[:16] if session else "(app)"


def safe_url(url: str) -> str:
    """A backend URL without its password."""
    return re.sub(r"//[^/@]*@", "//***@", url)


def when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def expires_text(expires: float) -> str:
    left = expires - time.time()
    if left <= 0:
        return "expired"
    for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60)):
        if left >= seconds:
            return f"in {left / seconds:.0f}{unit}"
    return f"in {left:.0f}s"


def size_text(size: int) -> str:
    for unit, factor in (("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"
