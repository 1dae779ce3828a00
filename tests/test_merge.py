"""Three-way merge: each rule, each conflict policy, and properties over random values."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dash_stash.engine.merge import MISSING, merge3, resolve_policy
from dash_stash.errors import ConflictError, format_path


class Recorder:
    """A resolver that records each conflict and answers with a marker (or a given value)."""

    def __init__(self, answer: Any = "RESOLVED") -> None:
        self.calls: list[tuple] = []
        self.answer = answer

    def __call__(self, path: tuple, base: Any, ours: Any, theirs: Any) -> Any:
        self.calls.append((path, base, ours, theirs))
        return self.answer


def no_conflict(path: tuple, base: Any, ours: Any, theirs: Any) -> Any:
    raise AssertionError(f"unexpected conflict at {path}: {base!r} {ours!r} {theirs!r}")


def merge(base: Any, ours: Any, theirs: Any, resolve=no_conflict) -> Any:
    """merge3, checking that no input is changed."""
    snapshot = copy.deepcopy((base, ours, theirs))
    result = merge3(base, ours, theirs, resolve)
    assert (base, ours, theirs) == snapshot, "an input was changed"
    return result


# ---- the three shortcuts -------------------------------------------------------------------


def test_one_side_unchanged_takes_the_other() -> None:
    assert merge({"a": 1}, {"a": 1}, {"a": 2}) == {"a": 2}
    assert merge({"a": 1}, {"a": 3}, {"a": 1}) == {"a": 3}
    assert merge(1, 1.0, 2) == 2  # 1 == 1.0 as JSON
    assert merge({"a": 1}, {"a": 5}, {"a": 5}) == {"a": 5}
    assert merge(None, [1], [1]) == [1]


# ---- dicts -----------------------------------------------------------------------------------


def test_dicts_merge_key_by_key() -> None:
    base = {"a": 1, "b": 1, "c": {"x": 1, "y": 1}}
    ours = {"a": 2, "b": 1, "c": {"x": 2, "y": 1}, "new_ours": 1}
    theirs = {"a": 1, "b": 3, "c": {"x": 1, "y": 3}, "new_theirs": 1}
    assert merge(base, ours, theirs) == {
        "a": 2,
        "b": 3,
        "c": {"x": 2, "y": 3},
        "new_ours": 1,
        "new_theirs": 1,
    }


def test_dict_deletions() -> None:
    base = {"a": 1, "b": 2, "c": 3}
    assert merge(base, {"b": 2, "c": 3}, {"a": 1, "b": 5, "c": 3}) == {"b": 5, "c": 3}
    assert merge(base, {"a": 1, "b": 5, "c": 3}, {"b": 2, "c": 3}) == {"b": 5, "c": 3}
    assert merge(base, {"a": 1, "c": 3}, {"b": 2, "c": 3}) == {"c": 3}  # both deleted one


def test_delete_against_change_is_a_conflict_at_that_key() -> None:
    rec = Recorder(answer=MISSING)  # returning MISSING deletes the key
    assert merge({"a": 1, "b": 1}, {"b": 1}, {"a": 2, "b": 1}, rec) == {"b": 1}
    assert rec.calls == [(("a",), 1, MISSING, 2)]
    rec = Recorder(answer=7)
    assert merge({"a": 1}, {"a": 2}, {}, rec) == {"a": 7}
    assert rec.calls == [(("a",), 1, 2, MISSING)]


def test_added_on_both_sides() -> None:
    assert merge({}, {"k": 1}, {"k": 1}) == {"k": 1}
    rec = Recorder()
    assert merge({"z": 0}, {"z": 0, "k": 1}, {"z": 0, "k": 2}, rec) == {"z": 0, "k": "RESOLVED"}
    assert rec.calls == [(("k",), MISSING, 1, 2)]
    # two new dicts merge as if both started empty
    assert merge({}, {"k": {"a": 1}}, {"k": {"b": 2}}) == {"k": {"a": 1, "b": 2}}
    rec = Recorder()
    merge({}, {"k": [1]}, {"k": [2]}, rec)  # two new lists: a conflict
    assert rec.calls == [(("k",), MISSING, [1], [2])]


# ---- lists -----------------------------------------------------------------------------------


def test_two_appends_both_stay_in_commit_order() -> None:
    base = [{"id": 1}]
    ours, theirs = [*base, {"id": "ours"}], [*base, {"id": "theirs"}]
    assert merge(base, ours, theirs) == [{"id": 1}, {"id": "theirs"}, {"id": "ours"}]
    assert merge([], ["o"], ["t"]) == ["t", "o"]
    assert merge([1, 2], [0, 1, 2], [-1, 1, 2]) == [-1, 0, 1, 2]  # prepends too


def test_non_overlapping_list_edits_combine() -> None:
    base = [1, 2, 3, 4, 5]
    assert merge(base, [1, 2, 3, 4, 5, 6], [2, 3, 4, 5]) == [2, 3, 4, 5, 6]
    assert merge(base, [1, "x", 3, 4, 5], [1, 2, 3, "y", 5]) == [1, "x", 3, "y", 5]
    assert merge(base, [1, 2, "in", 3, 4, 5], [1, 2, 4, 5]) == [1, 2, "in", 4, 5]
    assert merge(base, [1, 3, 4, 5], [1, 3, 4, 5, 9]) == [1, 3, 4, 5, 9]
    assert merge(base, [1, 2, 4, 5], [1, 2, 4, 5]) == [1, 2, 4, 5]


def test_same_list_item_changed_on_both_sides_merges_inside_it() -> None:
    base = [{"id": 1, "n": 0, "tags": []}, {"id": 2}]
    ours = [{"id": 1, "n": 5, "tags": []}, {"id": 2}]
    theirs = [{"id": 1, "n": 0, "tags": ["t"]}, {"id": 2, "seen": True}]
    assert merge(base, ours, theirs) == [{"id": 1, "n": 5, "tags": ["t"]}, {"id": 2, "seen": True}]
    rec = Recorder()
    merge([{"n": 0}], [{"n": 1}], [{"n": 2}], rec)  # the conflict is at the leaf, with its path
    assert rec.calls == [((0, "n"), 0, 1, 2)]


def test_identical_edits_on_both_sides_apply_once() -> None:
    assert merge([1, 2, 3], [1, "x", 3, 4], [1, "x", 3]) == [1, "x", 3, 4]


def test_overlapping_list_edits_are_a_conflict_on_the_whole_list() -> None:
    rec = Recorder()
    base, ours, theirs = {"l": [1, 2, 3]}, {"l": [1, "o", 3]}, {"l": [1, "t", 3]}
    assert merge(base, ours, theirs, rec) == {"l": "RESOLVED"}
    assert rec.calls == [(("l",), [1, 2, 3], [1, "o", 3], [1, "t", 3])]
    rec = Recorder()
    merge([{"a": 1}, 2], [2], [{"a": 5}, 2], rec)  # deleted on one side, changed on the other
    assert rec.calls == [((), [{"a": 1}, 2], [2], [{"a": 5}, 2])]
    rec = Recorder()
    merge([1, 2, 3, 4], [1, 4], [1, 2, "x", 3, 4], rec)  # insertion inside a deleted run
    assert len(rec.calls) == 1


# ---- leaves ---------------------------------------------------------------------------------


def test_leaf_and_type_changes_go_to_the_resolver() -> None:
    rec = Recorder()
    assert merge({"a": 1}, {"a": "x"}, {"a": [1]}, rec) == {"a": "RESOLVED"}
    assert rec.calls == [(("a",), 1, "x", [1])]
    rec = Recorder()
    merge(True, 1, 0, rec)  # True != 1 as JSON
    assert rec.calls == [((), True, 1, 0)]


def test_typed_values_are_one_leaf() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2]})
    ours, theirs = {"t": df.assign(a=[1, 3]), "k": 1}, {"t": df, "k": 2}
    result = merge3({"t": df, "k": 1}, ours, theirs, no_conflict)
    assert result["k"] == 2 and result["t"].equals(ours["t"])
    rec = Recorder()
    merge3({"t": df}, {"t": df.assign(a=[0, 0])}, {"t": df.assign(a=[9, 9])}, rec)
    assert rec.calls[0][0] == ("t",)


def test_custom_equality() -> None:
    def equal(a: Any, b: Any) -> bool:
        return str(a).lower() == str(b).lower()

    assert merge3("A", "a", "B", no_conflict, equal) == "B"


# ---- policies -------------------------------------------------------------------------------


def test_last_writer_wins_keeps_ours_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    resolve = resolve_policy("last-writer-wins", "user_data")
    with caplog.at_level(logging.WARNING, logger="dash_stash"):
        assert merge3({"a": [0]}, {"a": [1]}, {"a": [2]}, resolve) == {"a": [1]}
    [record] = caplog.records
    assert record.name == "dash_stash" and record.levelno == logging.WARNING
    assert 'user_data["a"]' in record.getMessage()


def test_raise_policy() -> None:
    resolve = resolve_policy("raise", "user_data")
    with pytest.raises(ConflictError, match=r'user_data\["a"\]\[0\]\["n"\]') as info:
        merge3({"a": [{"n": 0}]}, {"a": [{"n": 1}]}, {"a": [{"n": 2}]}, resolve)
    assert info.value.store == "user_data"
    assert info.value.path == 'user_data["a"][0]["n"]'
    assert merge3({"a": 0}, {"a": 1, "b": 1}, {"a": 0, "c": 1}, resolve) == {"a": 1, "c": 1, "b": 1}


def test_function_policy_gets_base_ours_theirs() -> None:
    resolve = resolve_policy(lambda base, ours, theirs: ours + theirs - base, "counter")
    assert merge3({"n": 10}, {"n": 11}, {"n": 15}, resolve) == {"n": 16}


def test_unknown_policy() -> None:
    with pytest.raises(ValueError, match="last-writer-wins, raise or a function"):
        resolve_policy("first-writer-wins", "s")


def test_format_path() -> None:
    assert format_path("s", ()) == "s"
    assert format_path("s", ("a", 2, "é")) == 's["a"][2]["é"]'


# ---- properties -----------------------------------------------------------------------------

leaves = st.none() | st.booleans() | st.integers(-5, 5) | st.text("abc", max_size=2)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text("abc", max_size=2), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(values, values, values)
def test_one_sided_and_identical_changes(base: Any, x: Any, theirs: Any) -> None:
    assert merge3(base, x, x, no_conflict) == x
    assert merge3(base, base, theirs, no_conflict) == theirs
    assert merge3(base, x, base, no_conflict) == x


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text("abcdef", max_size=3), values, max_size=6), st.data())
def test_changes_to_disjoint_keys_keep_both_in_either_order(base: dict, data) -> None:
    keys = data.draw(st.lists(st.text("abcdefgh", max_size=3), unique=True, max_size=8))
    split = data.draw(st.integers(0, len(keys)))

    def change(own: list[str]) -> dict:
        out = dict(base)
        for k in own:
            if k in out and data.draw(st.booleans()):
                del out[k]
            else:
                out[k] = data.draw(values)
        return out

    a, b = change(keys[:split]), change(keys[split:])
    expected = dict(base)
    for own, side in ((keys[:split], a), (keys[split:], b)):
        for k in own:
            if k in side:
                expected[k] = side[k]
            else:
                expected.pop(k, None)
    assert merge3(base, a, b, no_conflict) == expected
    assert merge3(base, b, a, no_conflict) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(values, max_size=6),
    st.lists(values, min_size=1, max_size=3),
    st.lists(values, min_size=1, max_size=3),
)
def test_random_appends_both_stay_in_commit_order(base: list, first: list, second: list) -> None:
    first = [{"by": "first", "v": v} for v in first]  # tagged, so the two sides differ
    second = [{"by": "second", "v": v} for v in second]
    # "first" committed earlier (theirs); "second" commits now (ours)
    assert merge3(base, base + second, base + first, no_conflict) == base + first + second
    assert merge3(base, base + first, base + second, no_conflict) == base + second + first
