"""Server-side Patch: each operation as dash-renderer applies it; invariants over random Patches.

The browser equivalence itself is in test_patch_browser.py; ``random_case`` lives here so both
files build the same kind of Patch through a real ``dash.Patch`` object.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from dash import Patch
from hypothesis import given, settings
from hypothesis import strategies as st
from plotly.io.json import to_json_plotly

from dash_stash.codec import equal
from dash_stash.engine.patch import apply_patch, is_patch, patch_operations
from dash_stash.errors import PatchError
from tests.support.patches import (
    random_case,
    same,
)


def run(value: Any, build) -> Any:
    """Record operations on a real dash.Patch with ``build(patch)`` and apply them to value."""
    p = Patch()
    build(p)
    return apply_patch(value, patch_operations(p.to_plotly_json()))


def fails(value: Any, build, match: str) -> None:
    with pytest.raises(PatchError, match=match):
        run(value, build)


# ---- API ---------------------------------------------------------------------------------


def test_patch_operations_and_is_patch() -> None:
    p = Patch()
    p["a"] = 1
    p["l"].append(2)
    ops = patch_operations(p.to_plotly_json())  # the engine knows a Patch by its JSON form
    assert [o["operation"] for o in ops] == ["Assign", "Append"]
    assert is_patch(p.to_plotly_json()) and not is_patch(p)  # the adapter converts objects
    assert not is_patch({"operations": []}) and not is_patch(None) and not is_patch([1])
    assert apply_patch({}, p.to_plotly_json()) == apply_patch({}, ops) == {"a": 1, "l": [2]}
    with pytest.raises(PatchError, match="expected a dash.Patch"):
        patch_operations({"a": 1})


def test_input_is_not_mutated_and_untouched_branches_are_shared() -> None:
    value = {"a": {"x": [1, 2]}, "b": {"y": 1}}
    snapshot = copy.deepcopy(value)

    def build(p):
        p["a"]["x"].append(3)
        p["a"]["x"][0] = 9
        del p["a"]["x"][1]

    result = run(value, build)
    assert value == snapshot
    assert result == {"a": {"x": [9, 3]}, "b": {"y": 1}}
    assert result["b"] is value["b"]


# ---- Assign ------------------------------------------------------------------------------


def test_assign_sets_keys_and_list_items() -> None:
    assert run({"a": 1}, lambda p: p.__setitem__("b", 2)) == {"a": 1, "b": 2}
    assert run({"l": [1, 2, 3]}, lambda p: p["l"].__setitem__(1, "x")) == {"l": [1, "x", 3]}
    assert run({"l": [1, 2]}, lambda p: p["l"].__setitem__(2, 3)) == {"l": [1, 2, 3]}
    assert run({"a": {"b": 1}}, lambda p: setattr(p.a, "b", 5)) == {"a": {"b": 5}}


def test_assign_negative_index_counts_from_the_end_at_each_step() -> None:
    value = {"rows": [{"v": 1}, {"v": 2}]}
    assert run(value, lambda p: p["rows"][-1].__setitem__("v", 9)) == {"rows": [{"v": 1}, {"v": 9}]}

    def build(p):  # the second -1 is resolved after the append, as the browser does
        p["rows"].append({"v": 3})
        p["rows"][-1]["v"] = 30

    assert run(value, build)["rows"] == [{"v": 1}, {"v": 2}, {"v": 30}]


def test_assign_creates_missing_containers_like_ramda() -> None:
    assert run({}, lambda p: p["a"]["b"].__setitem__("c", 1)) == {"a": {"b": {"c": 1}}}
    assert run({}, lambda p: p["a"].__setitem__(0, 1)) == {"a": [1]}  # int key next: a list
    assert run({}, lambda p: p["a"][0].__setitem__("b", 1)) == {"a": [{"b": 1}]}
    # a scalar in the way is replaced, as ramda's assocPath does
    assert run({"a": 5}, lambda p: p["a"].__setitem__("b", 1)) == {"a": {"b": 1}}
    # null is an object to JavaScript, so ramda assigns into it: an object even for an int key
    assert run({"a": None}, lambda p: p["a"].__setitem__(0, 1)) == {"a": {"0": 1}}
    assert run(None, lambda p: p.__setitem__("k", 1)) == {"k": 1}


def test_assign_int_key_on_a_dict_is_a_string_key() -> None:
    assert run({"1": "a"}, lambda p: p.__setitem__(1, "b")) == {"1": "b"}


def test_assign_errors() -> None:
    fails({"l": [1]}, lambda p: p["l"].__setitem__(3, 1), "past the end of a list of 1")
    fails({"l": [1]}, lambda p: p["l"].__setitem__(-2, 1), "out of range")
    fails({"d": {}}, lambda p: p["d"].__setitem__(-1, 1), "counts from the end of a list")
    fails({"l": [1]}, lambda p: p["l"].__setitem__("x", 1), "not a list index")
    fails("text", lambda p: p.__setitem__("x", 1), "inside a string")
    fails({}, lambda p: p["a"].__setitem__(1.5, 1), "is not a key")


# ---- Delete ------------------------------------------------------------------------------


def test_delete() -> None:
    assert run({"a": 1, "b": 2}, lambda p: p.__delitem__("a")) == {"b": 2}
    assert run({"l": [1, 2, 3]}, lambda p: p["l"].__delitem__(1)) == {"l": [1, 3]}
    assert run({"l": [1, 2, 3]}, lambda p: p["l"].__delitem__(-1)) == {"l": [1, 2]}
    assert run({"l": [1, 2, 3]}, lambda p: p["l"].__delitem__(7)) == {"l": [1, 2, 3]}
    assert run({"a": 1}, lambda p: p.__delitem__("zz")) == {"a": 1}
    assert run({"a": 1}, lambda p: p["x"]["y"].__delitem__("z")) == {"a": 1}
    assert run({"a": None}, lambda p: p["a"].__delitem__("z")) == {"a": None}
    assert run({"a": {"b": {"c": 1, "d": 2}}}, lambda p: delattr(p.a.b, "c")) == {
        "a": {"b": {"d": 2}}
    }


def test_delete_errors() -> None:
    fails({"n": 5}, lambda p: p["n"].__delitem__("x"), "inside a number")
    fails({"l": [1]}, lambda p: p["l"].__delitem__("x"), "not a list index")
    fails({"l": []}, lambda p: p["l"].__delitem__(-1), "out of range")


# ---- Merge, Extend, Insert, Append, Prepend ----------------------------------------------


def test_merge() -> None:
    assert run({"d": {"a": 1, "b": 2}}, lambda p: p["d"].update({"b": 3, "c": 4})) == {
        "d": {"a": 1, "b": 3, "c": 4}
    }
    assert run({}, lambda p: p["d"].update(x=1)) == {"d": {"x": 1}}
    assert run({"d": None}, lambda p: p["d"].update({"x": 1})) == {"d": {"x": 1}}

    def ior(p):
        p |= {"z": 0}

    assert run({"a": 1}, ior) == {"a": 1, "z": 0}
    fails({"l": [1]}, lambda p: p["l"].update({"x": 1}), "needs a dict there, found list")


def test_extend() -> None:
    assert run({"l": [1]}, lambda p: p["l"].extend([2, 3])) == {"l": [1, 2, 3]}
    assert run({"l": [1]}, lambda p: p["l"].extend((2,))) == {"l": [1, 2]}

    def iadd(p):
        p["l"] += [4]

    assert run({"l": []}, iadd) == {"l": [4]}
    fails({}, lambda p: p["l"].extend([1]), "needs a list there, found nothing")
    fails({"l": "s"}, lambda p: p["l"].extend([1]), "needs a list there, found string")
    ops = [{"operation": "Extend", "location": ["s"], "params": {"value": "cd"}}]
    assert apply_patch({"s": "ab"}, ops) == {"s": "abcd"}  # ramda concat joins two strings


def test_insert() -> None:
    lst = {"l": [1, 2, 3]}
    assert run(lst, lambda p: p["l"].insert(0, "x")) == {"l": ["x", 1, 2, 3]}
    assert run(lst, lambda p: p["l"].insert(-1, "x")) == {"l": [1, 2, "x", 3]}
    assert run(lst, lambda p: p["l"].insert(3, "x")) == {"l": [1, 2, 3, "x"]}
    # ramda insert puts anything out of range at the end, even a too-negative index
    assert run(lst, lambda p: p["l"].insert(10, "x")) == {"l": [1, 2, 3, "x"]}
    assert run(lst, lambda p: p["l"].insert(-10, "x")) == {"l": [1, 2, 3, "x"]}
    fails({"d": {}}, lambda p: p["d"].insert(0, 1), "needs a list there, found dict")
    fails({}, lambda p: p["l"].insert(0, 1), "needs a list there, found nothing")
    fails({"l": []}, lambda p: p["l"].insert("0", 1), "needs an int index")


def test_append_and_prepend() -> None:
    assert run({"l": [1]}, lambda p: p["l"].append(2)) == {"l": [1, 2]}
    assert run({"l": [1]}, lambda p: p["l"].prepend(0)) == {"l": [0, 1]}
    assert run({}, lambda p: p["new"].append(1)) == {"new": [1]}  # missing: a new list
    assert run({"l": None}, lambda p: p["l"].prepend(1)) == {"l": [1]}
    assert run([1], lambda p: p.append([2])) == [1, [2]]
    fails({"d": {}}, lambda p: p["d"].append(1), "needs a list there, found dict")
    fails({"s": "ab"}, lambda p: p["s"].append("c"), "found string")


# ---- arithmetic ----------------------------------------------------------------------------


def _aug(op: str, key: str, operand: Any):
    def build(p):
        target = p[key]
        getattr(target, f"__i{op}__")(operand)

    return build


def test_add_sub_mul_div() -> None:
    v = {"n": 4, "f": 1.5, "s": "ab", "z": None}
    assert run(v, _aug("add", "n", 1))["n"] == 5
    assert type(run(v, _aug("add", "n", 1))["n"]) is int
    assert run(v, _aug("add", "f", 1))["f"] == 2.5
    assert run(v, _aug("sub", "n", 10))["n"] == -6
    assert run(v, _aug("mul", "n", 2.5))["n"] == 10
    assert run(v, _aug("truediv", "n", 8))["n"] == 0.5
    div = run(v, _aug("truediv", "n", 2))["n"]
    assert div == 2 and type(div) is int  # JavaScript shows 2, not 2.0
    assert run({"x": 0.1}, _aug("add", "x", 0.2))["x"] == 0.1 + 0.2
    assert run(v, _aug("add", "s", "cd"))["s"] == "abcd"  # JavaScript + joins strings
    assert run(v, _aug("add", "z", 3))["z"] == 3  # JavaScript: null + 3 == 3

    def root(p):
        p += 1

    assert run(41, root) == 42


def test_arithmetic_follows_javascript_doubles_beyond_2_53() -> None:
    big = 2**53
    assert run({"n": big}, _aug("add", "n", 1))["n"] == float(big)  # the browser rounds too
    assert run({"n": big - 1}, _aug("add", "n", 1))["n"] == big


def test_arithmetic_errors() -> None:
    fails({}, _aug("add", "n", 1), "needs numbers.*found nothing")
    fails({"n": 1}, _aug("truediv", "n", 0), "division by zero")
    fails({"n": 0}, _aug("truediv", "n", 0.0), "division by zero")
    fails({"n": 1e308}, _aug("mul", "n", 10), "not a finite number")
    fails({"s": "a"}, _aug("add", "s", 1), "found string there and number")
    fails({"n": 1}, _aug("add", "n", "a"), "found number there and string")
    fails({"b": True}, _aug("add", "b", 1), "found bool")
    fails({"z": None}, _aug("add", "z", "x"), "found number there and string")


# ---- Clear, Reverse, Remove ----------------------------------------------------------------


def test_clear() -> None:
    v = {"l": [1], "d": {"a": 1}, "s": "abc", "n": 3}
    assert run(v, lambda p: p["l"].clear())["l"] == []
    assert run(v, lambda p: p["d"].clear())["d"] == {}
    assert run(v, lambda p: p["s"].clear())["s"] == ""
    fails(v, lambda p: p["n"].clear(), "clear.. needs a list, dict or string there, found number")
    fails(v, lambda p: p["zz"].clear(), "found nothing")


def test_reverse() -> None:
    v = {"l": [1, 2, 3], "s": "abc", "e": "a\U0001f600", "d": {}}
    assert run(v, lambda p: p["l"].reverse())["l"] == [3, 2, 1]
    assert run(v, lambda p: p["s"].reverse())["s"] == "cba"
    fails(v, lambda p: p["e"].reverse(), "outside the BMP")
    fails(v, lambda p: p["d"].reverse(), "found dict")


def test_remove_uses_deep_json_equality() -> None:
    v = {"l": [{"a": [1, 2]}, 1, 1.0, True, "1", {"a": [1, 2]}, None]}
    assert run(v, lambda p: p["l"].remove({"a": [1.0, 2]}))["l"] == [1, 1.0, True, "1", None]
    assert run(v, lambda p: p["l"].remove(1))["l"] == [
        {"a": [1, 2]},
        True,
        "1",
        {"a": [1, 2]},
        None,
    ]
    assert run(v, lambda p: p["l"].remove(True))["l"] == [
        {"a": [1, 2]},
        1,
        1.0,
        "1",
        {"a": [1, 2]},
        None,
    ]
    assert run(v, lambda p: p["l"].remove(99)) == v
    fails({"d": {"a": 1}}, lambda p: p["d"].remove(1), "remove.. needs a list there")


# ---- malformed operations ------------------------------------------------------------------


def test_malformed_operations() -> None:
    with pytest.raises(PatchError, match="unknown operation"):
        apply_patch({}, [{"operation": "Sort", "location": [], "params": {}}])
    with pytest.raises(PatchError, match="location must be a list"):
        apply_patch({}, [{"operation": "Assign", "location": "a", "params": {"value": 1}}])
    with pytest.raises(PatchError, match="no 'value' parameter"):
        apply_patch({}, [{"operation": "Assign", "location": ["a"], "params": {}}])
    with pytest.raises(PatchError, match="must be a dict"):
        apply_patch({}, ["Assign"])
    with pytest.raises(PatchError, match="is not a key"):
        apply_patch({}, [{"operation": "Delete", "location": [True], "params": {}}])


def test_remove_and_merge_share_the_codecs_equality() -> None:
    assert equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not equal(1, True) and not equal(0, None) and not equal("1", 1)
    assert not equal({"a": 1}, {"a": 1, "b": 2}) and not equal([1], [1, 1])
    pd = pytest.importorskip("pandas")
    assert equal(pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1]}))
    assert not equal(pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [2]}))


# ---- random Patches built through dash.Patch -----------------------------------------------


def as_json(ops: list[dict]) -> dict:
    """The Patch as the browser receives it: serialized by Dash, parsed back."""
    p = Patch()
    p._operations.extend(ops)
    return json.loads(to_json_plotly(p))


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False))
def test_random_patches_keep_invariants(rng: random.Random) -> None:
    initial, ops, expected = random_case(rng)
    snapshot = copy.deepcopy(initial)
    ops_snapshot = copy.deepcopy(ops)
    assert same(apply_patch(initial, ops), expected)
    assert same(initial, snapshot), "the input value was changed"
    assert ops == ops_snapshot, "the operations were changed"
    one_by_one = initial
    for op in ops:
        one_by_one = apply_patch(one_by_one, [op])
    assert same(one_by_one, expected)
    assert same(apply_patch(initial, patch_operations(as_json(ops))), expected)


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False))
def test_random_patches_fail_only_with_patch_error(rng: random.Random) -> None:
    """Unfiltered random operations: either a result, or PatchError (never another error)."""
    initial, ops, _ = random_case(rng, valid_only=False)
    snapshot = copy.deepcopy(initial)
    try:
        apply_patch(initial, ops)
    except PatchError as e:
        assert str(e).startswith("Patch ")
        with pytest.raises(PatchError):  # the JSON form fails the same way
            apply_patch(initial, patch_operations(as_json(ops)))
    assert same(initial, snapshot)
