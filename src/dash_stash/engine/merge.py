"""Three-way merge: apply the change one callback made onto the value committed since.

Two callbacks that read the same snapshot (``base``) and each return a whole new value would
overwrite each other in a ``dcc.Store``: a lost update. Instead the engine merges the change
from ``base`` to what the callback returned (``ours``) onto the latest committed value
(``theirs``): dicts key by key, lists diff3-style (two appends both stay, the earlier commit's
first). Only the same leaf changed two ways is a conflict, settled by the store's policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import orjson

from ..codec import equal
from ..errors import ConflictError, format_path

Resolver = Callable[[tuple, Any, Any, Any], Any]
POLICIES = ("last-writer-wins", "raise")
log = logging.getLogger("dash_stash")


class _Missing:
    """A dict key absent on one side. A resolver may get it, and may return it to delete."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def resolve_policy(policy: str | Callable[[Any, Any, Any], Any], store: str) -> Resolver:
    """Turn a store's ``conflict`` setting into a resolver ``(path, base, ours, theirs)``."""
    if callable(policy):
        return lambda path, base, ours, theirs: policy(base, ours, theirs)
    if policy == "last-writer-wins":

        def last_writer_wins(path: tuple, base: Any, ours: Any, theirs: Any) -> Any:
            log.warning(
                "dash-stash: two writers changed %s in different ways; keeping the "
                "value of the later one (conflict policy 'last-writer-wins'). Use "
                "'raise' or a resolver function to handle it.",
                format_path(store, path),
            )
            return ours

        return last_writer_wins
    if policy == "raise":

        def raise_conflict(path: tuple, base: Any, ours: Any, theirs: Any) -> Any:
            where = format_path(store, path)
            raise ConflictError(
                f"{where} was changed by another writer since this callback read it, in a "
                "different way; nothing was written (conflict policy 'raise'). Re-run the "
                "action, or set a resolver function as the conflict policy.",
                store=store,
                path=where,
            )

        return raise_conflict
    raise ValueError(
        f"conflict policy for store {store!r} must be one of {', '.join(POLICIES)} "
        f"or a function (base, ours, theirs) -> value; got {policy!r}"
    )


SUMMARY_CHARS = 400  # of each value a recorded conflict keeps


def _summary(value: Any) -> str:
    """A short JSON text of a conflicting value, as kept with the version for the inspector."""
    if value is MISSING:
        return "(absent)"
    try:
        text = orjson.dumps(
            value, default=lambda v: f"<{type(v).__name__}>", option=orjson.OPT_NON_STR_KEYS
        ).decode()
    except TypeError:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"


@dataclass
class Conflict:
    """One leaf two writers changed two ways, and what the store's policy kept."""

    path: tuple
    base: Any
    ours: Any
    theirs: Any
    kept: Any

    def as_json(self) -> dict:
        """The record kept with the merged version: values shortened, `kept` named."""
        kept = "other"
        for name, value in (("ours", self.ours), ("theirs", self.theirs), ("base", self.base)):
            if self.kept is value or (
                self.kept is not MISSING and value is not MISSING and equal(self.kept, value)
            ):
                kept = name
                break
        if self.kept is MISSING:
            kept = "removed"
        return {
            "path": [k if isinstance(k, (str, int)) else repr(k) for k in self.path],
            "base": _summary(self.base),
            "ours": _summary(self.ours),
            "theirs": _summary(self.theirs),
            "kept": kept,
            "value": _summary(self.kept),
        }


def recording(resolve: Resolver, conflicts: list[Conflict]) -> Resolver:
    """`resolve`, noting each conflict it settles in `conflicts` (a policy that raises
    notes nothing: nothing is written)."""

    def record(path: tuple, base: Any, ours: Any, theirs: Any) -> Any:
        kept = resolve(path, base, ours, theirs)
        conflicts.append(Conflict(path, base, ours, theirs, kept))
        return kept

    return record


def merge3(
    base: Any,
    ours: Any,
    theirs: Any,
    resolve: Resolver,
    equal: Callable[[Any, Any], bool] = equal,
) -> Any:
    """Apply the change ``base -> ours`` onto ``theirs``; no input is changed."""
    return _Merge(resolve, equal).merge((), base, ours, theirs)


def _key(item: Any) -> Any:
    """A hashable stand-in for a list item, so items compare by value (dicts are unhashable)."""
    try:
        return orjson.dumps(
            item, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        )
    except TypeError:
        return ("object", id(item))


def _hunks(base_keys: list, other: list, side: int) -> list[tuple[int, int, int, list]]:
    """The edits base -> other as (start, end, side, new items); equal-size runs per item."""
    keys = [_key(x) for x in other]
    hunks = []
    matcher = SequenceMatcher(None, base_keys, keys, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace" and i2 - i1 == j2 - j1:
            hunks += [
                (i1 + n, i1 + n + 1, side, other[j1 + n : j1 + n + 1])
                for n in range(i2 - i1)
                if base_keys[i1 + n] != keys[j1 + n]
            ]
        elif tag != "equal":
            hunks.append((i1, i2, side, other[j1:j2]))
    return hunks


class _Conflict(Exception):
    """Overlapping list edits that cannot both be kept."""


class _Merge:
    def __init__(self, resolve: Resolver, equal: Callable[[Any, Any], bool]) -> None:
        self.resolve, self.equal = resolve, equal

    def same(self, a: Any, b: Any) -> bool:
        return a is b or (a is not MISSING and b is not MISSING and self.equal(a, b))

    def merge(self, path: tuple, base: Any, ours: Any, theirs: Any) -> Any:
        if self.same(ours, base):
            return theirs
        if self.same(theirs, base) or self.same(ours, theirs):
            return ours
        if all(isinstance(v, dict) for v in (base, ours, theirs)):
            return self.dicts(path, base, ours, theirs)
        if all(isinstance(v, list) for v in (base, ours, theirs)):
            try:
                return self.lists(path, base, ours, theirs)
            except _Conflict:
                pass
        return self.resolve(path, base, ours, theirs)

    def dicts(self, path: tuple, base: dict, ours: dict, theirs: dict) -> dict:
        out = {}
        for key in [*theirs, *(k for k in ours if k not in theirs)]:
            b, o, t = (d.get(key, MISSING) for d in (base, ours, theirs))
            if b is MISSING and isinstance(o, dict) and isinstance(t, dict):
                b = {}  # added on both sides: merge the two new dicts key by key
            value = self.merge((*path, key), b, o, t)
            if value is not MISSING:
                out[key] = value
        return out

    def lists(self, path: tuple, base: list, ours: list, theirs: list) -> list:
        base_keys = [_key(x) for x in base]
        hunks = sorted(
            _hunks(base_keys, theirs, 0) + _hunks(base_keys, ours, 1), key=lambda h: h[:3]
        )
        out: list = []
        pos = i = 0
        while i < len(hunks):
            group, start, end = [hunks[i]], hunks[i][0], hunks[i][1]
            i += 1
            while i < len(hunks) and (
                hunks[i][0] < end or hunks[i][0] == hunks[i][1] == end == start
            ):
                group.append(hunks[i])
                end = max(end, hunks[i][1])
                i += 1
            out += base[pos:start] + self.group(path, base, group)
            pos = end
        return out + base[pos:]

    def group(self, path: tuple, base: list, group: list) -> list:
        """The items replacing one run of base: one side's edit, both inserts, or a merge."""
        if len(group) == 1:
            return group[0][3]
        (start, end, _, their_items), (start2, end2, _, our_items) = group[0], group[-1]
        if len(group) != 2 or (start, end) != (start2, end2):
            raise _Conflict
        # two edits of the same run, sorted theirs (committed earlier) first, then ours
        if start == end:  # both inserted here: keep both, the earlier commit's items first
            return their_items + our_items
        if self.equal(their_items, our_items):
            return our_items
        if (
            end - start == 1
            and len(our_items) == len(their_items) == 1
            and all(isinstance(x, (dict, list)) for x in (our_items[0], their_items[0]))
        ):
            value = self.merge((*path, start), base[start], our_items[0], their_items[0])
            return [] if value is MISSING else [value]
        raise _Conflict
