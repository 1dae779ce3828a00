"""Apply Dash ``Patch`` operations on the server, with the results dash-renderer gives.

A callback may return a ``dash.Patch`` for a store. The browser would apply it with ramda
(``dash-renderer/src/actions/patch.ts``); we keep the value on the server, so we apply the same
operations here and commit the result atomically on the latest version. Each handler below
mirrors one patch.ts handler, including its quirks (negative indices resolved step by step,
missing containers created, ``Insert`` past the end appending, ``null`` counting as 0).
Where the browser would keep something JSON cannot hold or no Python user means (NaN,
Infinity, holes in a list, a list turned into an object, a string into a dict of characters),
we raise PatchError instead: the engine then commits nothing.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from typing import Any

from ..codec import equal
from ..errors import PatchError, format_path

MARKER = "__dash_patch_update"


class _Undefined:
    """JavaScript's ``undefined``: nothing at that location (unlike ``None``, which is null)."""

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Any = _Undefined()


def is_patch(value: Any) -> bool:
    """True for the JSON form of a ``dash.Patch`` (the renderer looks for the marker key).

    The engine knows Patches only in that form; the Dash adapter turns a ``dash.Patch``
    object into it (``to_plotly_json()``) before a write reaches the engine."""
    return isinstance(value, dict) and MARKER in value


def patch_operations(patch: Any) -> list[dict]:
    """The operations a ``dash.Patch``'s JSON form (``to_plotly_json()``) recorded, in order."""
    if not is_patch(patch) or not isinstance(patch.get("operations"), list):
        raise PatchError(f"expected a dash.Patch or its JSON form, got {type(patch).__name__}")
    return list(patch["operations"])


def apply_patch(value: Any, operations: list[dict]) -> Any:
    """Return ``value`` with ``operations`` applied in order; ``value`` itself is not changed.

    Only the containers along each touched path are copied; the rest is shared.
    A ``dash.Patch``'s JSON form is accepted too.
    """
    if is_patch(operations):
        operations = patch_operations(operations)
    for op in operations:
        value = _apply_one(value, op)
    return value


# ---- locations ---------------------------------------------------------------------------


class _Where:
    """Names an operation in error messages; formatted only when an error is raised."""

    __slots__ = ("name", "location")

    def __init__(self, name: Any, location: Any) -> None:
        self.name, self.location = name, location

    def __str__(self) -> str:
        return f"Patch {self.name} at {format_path('', self.location) or 'the top level'}"


def _kind(value: Any) -> str:
    if value is UNDEFINED:
        return "nothing (the location does not exist)"
    names = {type(None): "None", bool: "bool", str: "string", dict: "dict", list: "list"}
    return names.get(type(value)) or ("number" if _is_number(value) else type(value).__name__)


def _is_number(value: Any) -> bool:
    if type(value) in (int, float):  # the common case, without the slow ABC check
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    if type(value) is int:
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _dkey(key: str | int) -> str:
    """JavaScript object keys are strings: ``patch[1] = x`` on a dict sets ``"1"``."""
    return key if isinstance(key, str) else str(key)


def _resolve(location: Any, root: Any, where: str) -> list[str | int]:
    """patch.ts getLocationPath: a negative index counts from the end of the list found there."""
    if not isinstance(location, (list, tuple)):
        raise PatchError(f"{where}: the location must be a list of keys, got {location!r}")
    path: list[str | int] = []
    for key in location:
        if _is_int(key):
            key = int(key)
            if key < 0:
                key = _from_end(key, _get(root, path), where)
        elif not isinstance(key, str):
            raise PatchError(
                f"{where}: {key!r} is not a key; use a string (dict key) or an int (list index)"
            )
        path.append(key)
    return path


def _from_end(index: int, container: Any, where: str) -> int:
    if not isinstance(container, list):
        raise PatchError(
            f"{where}: index {index} counts from the end of a list, "
            f"but there is {_kind(container)} there"
        )
    if len(container) + index < 0:
        raise PatchError(
            f"{where}: index {index} is out of range for a list of {len(container)} items"
        )
    return len(container) + index


def _step(container: Any, key: str | int) -> Any:
    if isinstance(container, dict):
        return container.get(_dkey(key), UNDEFINED)
    if isinstance(container, list) and isinstance(key, int) and key < len(container):
        return container[key]
    return UNDEFINED


def _get(root: Any, path: list[str | int]) -> Any:
    """ramda ``path``: the value at ``path``, or UNDEFINED."""
    for key in path:
        root = _step(root, key)
    return root


def _assoc(container: Any, key: str | int, value: Any, where: str) -> Any:
    """ramda ``assoc``: a copy of ``container`` with ``key`` set."""
    if isinstance(container, list):
        if not isinstance(key, int):
            raise PatchError(
                f"{where}: {key!r} is not a list index (the browser would turn "
                "the list into an object); use an int"
            )
        if key < len(container):
            return [*container[:key], value, *container[key + 1 :]]
        if key == len(container):
            return [*container, value]
        raise PatchError(
            f"{where}: index {key} is past the end of a list of {len(container)} "
            "items (the browser would leave holes); use append, extend or insert"
        )
    if isinstance(container, dict):
        return {**container, _dkey(key): value}
    if (
        container is None
        or container is UNDEFINED
        or _is_number(container)
        or isinstance(container, bool)
    ):
        return {_dkey(key): value}  # ramda replaces null and numbers with a new object
    raise PatchError(
        f"{where}: cannot set {key!r} inside a {_kind(container)}; assign a whole new value instead"
    )


def _set(root: Any, path: list[str | int], value: Any, where: str) -> Any:
    """ramda ``assocPath``: missing or scalar steps become a list (int key next) or a dict."""
    if not path:
        return value
    key = path[0]
    if len(path) > 1:
        child = _step(root, key)
        if child is not None and not isinstance(child, (dict, list)):
            if child is not UNDEFINED and not isinstance(child, (str, bool, numbers.Real)):
                raise PatchError(
                    f"{where}: cannot patch inside a {_kind(child)}; "
                    "assign a whole new value instead"
                )
            child = [] if isinstance(path[1], int) else {}
        value = _set(child, path[1:], value, where)
    return _assoc(root, key, value, where)


def _delete(root: Any, path: list[str | int], where: str) -> Any:
    """ramda ``dissocPath``: deleting what is not there changes nothing; list items are removed."""
    if root is None or root is UNDEFINED or not path:
        return root
    key = path[0]
    if isinstance(root, list) and not isinstance(key, int):
        raise PatchError(f"{where}: {key!r} is not a list index; use an int")
    if not isinstance(root, (dict, list)):
        raise PatchError(f"{where}: cannot delete {key!r} inside a {_kind(root)}")
    if len(path) == 1:
        if isinstance(root, list):
            return [*root[:key], *root[key + 1 :]]
        return {k: v for k, v in root.items() if k != _dkey(key)}
    child = _step(root, key)
    if child is None or child is UNDEFINED:
        return root
    return _assoc(root, key, _delete(child, path[1:], where), where)


# ---- operations --------------------------------------------------------------------------


def _param(params: dict, name: str, where: str) -> Any:
    if name not in params:
        raise PatchError(f"{where}: the operation has no {name!r} parameter")
    return params[name]


def _merge(prev: Any, params: dict, where: str) -> Any:
    value = _param(params, "value", where)
    if not isinstance(value, dict):
        raise PatchError(f"{where}: update() needs a dict, got {_kind(value)}")
    if prev is None or prev is UNDEFINED:
        prev = {}
    if not isinstance(prev, dict):
        raise PatchError(f"{where}: update() needs a dict there, found {_kind(prev)}")
    return {**prev, **{_dkey(k): v for k, v in value.items()}}


def _extend(prev: Any, params: dict, where: str) -> Any:
    value = _param(params, "value", where)
    if isinstance(prev, list) and isinstance(value, (list, tuple)):
        return [*prev, *value]
    if isinstance(prev, str) and isinstance(value, str):
        return prev + value
    raise PatchError(f"{where}: extend() needs a list there, found {_kind(prev)}")


def _insert(prev: Any, params: dict, where: str) -> Any:
    value, index = _param(params, "value", where), _param(params, "index", where)
    if not isinstance(prev, list):
        raise PatchError(f"{where}: insert() needs a list there, found {_kind(prev)}")
    if not _is_int(index):
        raise PatchError(f"{where}: insert() needs an int index, got {index!r}")
    index = int(index) + (len(prev) if index < 0 else 0)
    if not 0 <= index < len(prev):  # ramda insert: out of range means at the end
        index = len(prev)
    return [*prev[:index], value, *prev[index:]]


def _adder(at_end: bool) -> Callable[[Any, dict, str], Any]:
    def add(prev: Any, params: dict, where: str) -> Any:
        value = _param(params, "value", where)
        if prev is None or prev is UNDEFINED:  # ramda append/prepend treat null as []
            prev = []
        if not isinstance(prev, list):
            raise PatchError(f"{where}: needs a list there, found {_kind(prev)}")
        return [*prev, value] if at_end else [value, *prev]

    return add


def _arithmetic(func: Callable[[float, float], float]) -> Callable[[Any, dict, str], Any]:
    """JavaScript numbers are doubles, so compute in floats; ints stay ints where exact."""

    def apply(prev: Any, params: dict, where: str) -> Any:
        value = _param(params, "value", where)
        if func is operator.add and isinstance(prev, str) and isinstance(value, str):
            return prev + value
        prev = 0 if prev is None else prev  # JavaScript: null + 1 == 1
        if not (_is_number(prev) and _is_number(value)):
            raise PatchError(
                f"{where}: needs numbers (or two strings to join), found "
                f"{_kind(prev)} there and {_kind(value)} as the operand"
            )
        if func is operator.truediv and value == 0:
            raise PatchError(
                f"{where}: division by zero (the browser would store Infinity "
                "or NaN, which JSON cannot hold)"
            )
        try:
            result = func(float(prev), float(value))
        except OverflowError:
            result = math.inf
        if not math.isfinite(result):
            raise PatchError(f"{where}: the result is not a finite number; JSON cannot hold it")
        if _is_int(prev) and _is_int(value) and result.is_integer() and abs(result) <= 2**53:
            return int(result)
        return result

    return apply


def _clear(prev: Any, params: dict, where: str) -> Any:
    if isinstance(prev, (list, dict, str)):
        return type(prev)()
    raise PatchError(f"{where}: clear() needs a list, dict or string there, found {_kind(prev)}")


def _reverse(prev: Any, params: dict, where: str) -> Any:
    if isinstance(prev, list) or (isinstance(prev, str) and all(c <= "\uffff" for c in prev)):
        return prev[::-1]
    if isinstance(prev, str):
        raise PatchError(
            f"{where}: the string has characters outside the BMP, which the "
            "browser would split into broken halves; reverse it in Python"
        )
    raise PatchError(f"{where}: reverse() needs a list there, found {_kind(prev)}")


def _remove(prev: Any, params: dict, where: str) -> Any:
    value = _param(params, "value", where)
    if not isinstance(prev, list):
        raise PatchError(f"{where}: remove() needs a list there, found {_kind(prev)}")
    return [item for item in prev if not equal(item, value)]


_UPDATES: dict[str, Callable[[Any, dict, str], Any]] = {
    "Merge": _merge,
    "Extend": _extend,
    "Insert": _insert,
    "Append": _adder(True),
    "Prepend": _adder(False),
    "Add": _arithmetic(operator.add),
    "Sub": _arithmetic(operator.sub),
    "Mul": _arithmetic(operator.mul),
    "Div": _arithmetic(operator.truediv),
    "Clear": _clear,
    "Reverse": _reverse,
    "Remove": _remove,
}
OPERATIONS = ("Assign", "Delete", *_UPDATES)


def _apply_one(root: Any, op: Any) -> Any:
    if not isinstance(op, dict):
        raise PatchError(f"a Patch operation must be a dict, got {type(op).__name__}")
    name, location = op.get("operation"), op.get("location")
    where: Any = _Where(name, location if isinstance(location, (list, tuple)) else ())
    if name not in OPERATIONS:
        raise PatchError(f"{where}: unknown operation; dash.Patch records {', '.join(OPERATIONS)}")
    path = _resolve(location, root, where)
    params = op.get("params") or {}
    if name == "Assign":
        return _set(root, path, _param(params, "value", where), where)
    if name == "Delete":
        return _delete(root, path, where)
    return _set(root, path, _UPDATES[name](_get(root, path), params, where), where)
