"""Random Patch cases (operations on random locations of random values) and a strict equality."""

from __future__ import annotations

import random
from typing import Any

from dash import Patch

from dash_stash.engine.patch import apply_patch, patch_operations
from dash_stash.errors import PatchError


def same(a: Any, b: Any) -> bool:
    """Equal as JSON: 1 == 1.0, True != 1, and the Python types of leaves otherwise match."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


KEYS = ["a", "b", "c", "0", "key"]


NUMBERS = [0, 1, -3, 7, 0.5, -1.5, 2.25, 3.0, 12.5, 1e-3]


STRINGS = ["", "a", "xy", "héllo", "zz"]


def rand_scalar(rng: random.Random) -> Any:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randint(-20, 20)
    if kind == 1:
        return rng.choice(NUMBERS)
    if kind == 2:
        return rng.choice(STRINGS)
    return rng.choice([True, False]) if kind == 3 else None


def rand_value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth >= 3 or r < 0.4:
        return rand_scalar(rng)
    if r < 0.7:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {k: rand_value(rng, depth + 1) for k in rng.sample(KEYS, rng.randint(0, 4))}


def locations(rng: random.Random, value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every location in value; list indices as often negative as not."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += locations(rng, v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += locations(rng, v, (*prefix, i - len(value) if rng.random() < 0.5 else i))
    return out


ANY_ACTION = [
    "assign",
    "delete",
    "append",
    "prepend",
    "extend",
    "insert",
    "remove",
    "clear",
    "reverse",
    "update",
    "add",
    "sub",
    "mul",
    "div",
]


BY_TYPE = {
    list: [
        "assign",
        "delete",
        "append",
        "prepend",
        "extend",
        "insert",
        "remove",
        "clear",
        "reverse",
    ],
    dict: ["assign", "delete", "update", "clear"],
    str: ["assign", "delete", "add", "clear", "reverse"],
    int: ["assign", "delete", "add", "sub", "mul", "div"],
    float: ["assign", "delete", "add", "sub", "mul", "div"],
    type(None): ["assign", "delete", "append", "prepend", "update", "add", "mul"],
}


def lookup(value: Any, path: tuple) -> Any:
    for k in path:
        in_list = isinstance(value, list) and isinstance(k, int) and -len(value) <= k < len(value)
        if in_list or isinstance(value, dict) and k in value:
            value = value[k]
        else:
            return None
    return value


def random_action(rng: random.Random, value: Any) -> Patch:
    """A Patch with one operation on a random (mostly existing) location of value."""
    p = Patch()
    path = rng.choice(locations(rng, value))
    if rng.random() < 0.15:
        path = (*path, rng.choice([*KEYS, 0, 1, -1]))
    current = lookup(value, path)
    pool = BY_TYPE.get(type(current), ANY_ACTION) if rng.random() < 0.85 else ANY_ACTION
    action = rng.choice(
        pool if path else [a for a in pool if a not in ("assign", "delete")] or ["append"]
    )
    target = p
    for k in path:
        target = target[k]
    parent = p
    for k in path[:-1]:
        parent = parent[k]
    if action == "assign":
        parent[path[-1]] = rand_value(rng, 1)
    elif action == "delete":
        del parent[path[-1]]
    elif action in ("append", "prepend"):
        getattr(target, action)(rand_value(rng, 1))
    elif action == "extend":
        items = [rand_value(rng, 2) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.5:
            target.extend(items)
        else:
            target.__iadd__(items)
    elif action == "insert":
        target.insert(rng.randint(-5, 5), rand_value(rng, 1))
    elif action == "remove":
        pick = isinstance(current, list) and current and rng.random() < 0.7
        target.remove(rng.choice(current) if pick else rand_scalar(rng))
    elif action in ("clear", "reverse"):
        getattr(target, action)()
    elif action == "update":
        new = {k: rand_value(rng, 2) for k in rng.sample(KEYS, rng.randint(0, 2))}
        if rng.random() < 0.5:
            target.update(new)
        else:
            target.__ior__(new)
    elif action == "add" and isinstance(current, str):
        target.__iadd__(rng.choice(STRINGS))
    else:
        method = {"add": "__iadd__", "sub": "__isub__", "mul": "__imul__", "div": "__itruediv__"}[
            action
        ]
        getattr(target, method)(rng.choice([2, -4, 0.5, 3, 1.25] if action == "div" else NUMBERS))
    return p


def random_case(rng: random.Random, valid_only: bool = True) -> tuple[Any, list[dict], Any]:
    """(initial value, operations, expected result). With valid_only, no operation fails."""
    r = rng.random()
    initial = (
        {k: rand_value(rng, 1) for k in rng.sample(KEYS, rng.randint(1, 4))}
        if r < 0.55
        else [rand_value(rng, 1) for _ in range(rng.randint(0, 4))]
        if r < 0.85
        else None
        if r < 0.93
        else rand_scalar(rng)
    )
    ops: list[dict] = []
    value = initial
    for _ in range(rng.randint(1, 6)):
        for _attempt in range(20):
            step = patch_operations(random_action(rng, value).to_plotly_json())
            try:
                new = apply_patch(value, step)
            except PatchError:
                if valid_only:
                    continue
                ops += step
                return initial, ops, None
            ops += step
            value = new
            break
    return initial, ops, value
