"""The inspectors' data model (`dash_stash.inspect`): kinds of write kept by every embedded
backend, databases of dash-stash 0.1, diffs and value trees, and `dash-stash inspect --diff`."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from dash_stash import inspect
from dash_stash.backends import StoreKey, open_backend
from dash_stash.codec import decode, encode
from dash_stash.engine import Replace, StashEngine
from tests.support.write_kinds import check_kinds

# The versions table as dash-stash 0.1 created it: no kind, no details.
SCHEMA_0_1 = """
CREATE TABLE keys (
    namespace TEXT NOT NULL, session TEXT NOT NULL, scope TEXT NOT NULL, store_id TEXT NOT NULL,
    version INTEGER NOT NULL, created REAL NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (namespace, session, scope, store_id)
) WITHOUT ROWID;
CREATE TABLE versions (
    namespace TEXT NOT NULL, session TEXT NOT NULL, scope TEXT NOT NULL, store_id TEXT NOT NULL,
    version INTEGER NOT NULL, size INTEGER NOT NULL, updated REAL NOT NULL, writer TEXT NOT NULL,
    codec TEXT NOT NULL, value BLOB NOT NULL, file TEXT NOT NULL DEFAULT '',
    UNIQUE (namespace, session, scope, store_id, version)
);
"""


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_versions_keep_kind_of_write_and_merge_conflicts(kind, tmp_path):
    url = "memory://" if kind == "memory" else f"sqlite:///{tmp_path}/stash.db"
    check_kinds(open_backend(url))


def test_sqlite_database_of_0_1_is_migrated_and_keeps_its_versions(tmp_path):
    path = tmp_path / "old.db"
    key = StoreKey("app/", "s", "local", "doc")
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_0_1)
        old = encode({"n": 1})
        conn.execute("INSERT INTO keys VALUES (?, ?, ?, ?, 1, 1.0, 9e12)", (*vars(key).values(),))
        conn.execute(
            "INSERT INTO versions VALUES (?, ?, ?, ?, 1, ?, 1.0, 'old_writer', ?, ?, '')",
            (*vars(key).values(), old.size, old.codec, old.data),
        )
    engine = StashEngine(open_backend(f"sqlite:///{path}"))
    assert engine.read(key)[0] == {"n": 1}
    engine.commit(key, Replace({"n": 2}), ttl=60, writer="new_writer")
    kept = inspect.versions(engine.backend, key)
    assert [(v.version, v.writer, v.kind) for v in kept] == [
        (2, "new_writer", "replace"),
        (1, "old_writer", ""),  # written before kinds were kept
    ]
    open_backend(f"sqlite:///{path}").close()  # opening a migrated database again is a no-op


def test_diff_lists_added_removed_and_changed_paths():
    old = {"a": 1, "gone": True, "items": [1, 2, 3], "deep": {"x": [1]}}
    new = {"a": 2, "items": [1, 5], "deep": {"x": [1, {"y": None}]}, "new": "hi"}
    assert inspect.diff(old, new) == [
        {"path": ["a"], "op": "changed", "old": "1", "new": "2"},
        {"path": ["gone"], "op": "removed", "old": "true"},
        {"path": ["items", 1], "op": "changed", "old": "2", "new": "5"},
        {"path": ["items", 2], "op": "removed", "old": "3"},
        {"path": ["deep", "x", 1], "op": "added", "new": '{"y":null}'},
        {"path": ["new"], "op": "added", "new": '"hi"'},
    ]
    assert inspect.diff([1], [1]) == []
    assert inspect.diff(1, True) == [{"path": [], "op": "changed", "old": "1", "new": "true"}]


def test_value_tree_sends_one_level_a_page_at_a_time():
    value = {"rows": list(range(250)), "name": "x" * 5000}
    root = inspect.tree(value)
    assert [c["key"] for c in root["children"]] == ["rows", "name"]
    assert root["children"][0]["preview"] == "[250 items]"
    assert len(root["children"][1]["preview"]) < 2100  # a long string is cut
    page = inspect.tree(value, ["rows"], offset=200)
    assert [c["key"] for c in page["children"]] == list(range(200, 250)) and page["more"] == 0
    assert inspect.tree(value, ["rows"])["more"] == 150
    with pytest.raises(inspect.InspectError, match="no 'nope'"):
        inspect.tree(value, ["nope"])
    with pytest.raises(inspect.InspectError):
        inspect.tree(value, ["name", 0])  # strings are leaves


def test_cli_diff_between_two_versions(tmp_path):
    url = f"sqlite:///{tmp_path}/stash.db"
    engine = StashEngine(open_backend(url))
    key = StoreKey("shop/", "a" * 32, "local", "cart")
    engine.commit(key, Replace({"items": ["apple"], "paid": False}), ttl=3600, writer="add")
    engine.commit(key, Replace({"items": ["apple", "pear"]}), ttl=3600, writer="add")
    engine.backend.close()

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "dash_stash.cli", "inspect", "--backend", url, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    shown = cli("--show", "cart", "--diff", "1", "2")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        f"{'a' * 32}/local/cart: version 1 -> 2, 2 changes",
        '  + ["items"][1]: "pear"',
        '  - ["paid"]: false',
    ]
    listed = cli()
    assert "replace" in listed.stdout.splitlines()[1]  # the KIND column
    missing = cli("--show", "cart", "--diff", "1", "7")
    assert missing.returncode == 1 and "version 7 is not kept" in missing.stderr
    alone = cli("--diff", "1", "2")
    assert alone.returncode == 1 and "--diff A B needs --show KEY" in alone.stderr
    assert decode(open_backend(url).read(key).value) == {"items": ["apple", "pear"]}
