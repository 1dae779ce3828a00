"""One check for every backend: each version keeps its kind of write and what a merge's
policy settled, and `head` lists the latest without its value (used by test_inspect.py on
memory and SQLite, and by the Redis tests)."""

from __future__ import annotations

from dash import Patch

from dash_stash import inspect
from dash_stash.backends import Backend, StoreKey
from dash_stash.engine import Merge, PatchWrite, Replace, Restore, StashEngine

KEY = StoreKey("kinds", "session", "local", "doc")


def check_kinds(backend: Backend) -> None:
    engine = StashEngine(backend)
    engine.commit(KEY, Replace({"color": "white", "n": 0}), ttl=60, writer="reset")
    patch = Patch()
    patch["n"] += 1
    engine.commit(KEY, PatchWrite(patch.to_plotly_json()["operations"]), ttl=60, writer="inc")
    base, read = engine.read(KEY)
    for color, writer in (("red", "paint_red"), ("blue", "paint_blue")):  # both read v2
        ours = {**base, "color": color}
        engine.commit(KEY, Merge(lambda: dict(base), read.version, ours), ttl=60, writer=writer)
    engine.commit(KEY, Restore(inspect.record_at(backend, KEY, 2)), ttl=60, writer="undo")

    kept = inspect.versions(backend, KEY)
    assert [(v.version, v.writer, v.kind) for v in kept] == [
        (5, "undo", "restore"),
        (4, "paint_blue", "merge"),
        (3, "paint_red", "replace"),  # nobody wrote since it read: nothing to merge
        (2, "inc", "patch"),
        (1, "reset", "replace"),
    ]
    assert kept[0].details == {"from": 2}
    assert kept[1].details == {
        "base": 2,
        "theirs": 3,
        "theirs_writer": "paint_red",
        "conflicts": [
            {
                "path": ["color"],
                "base": '"white"',
                "ours": '"blue"',
                "theirs": '"red"',
                "kept": "ours",
                "value": '"blue"',
            }
        ],
    }
    assert engine.read(KEY)[0] == {"color": "white", "n": 1}  # what v2 held

    # A listing's view of the latest version, without its value, as `read` has it
    head, latest = backend.head(KEY), backend.read(KEY)
    assert head is not None and latest is not None
    assert (head.version, head.size, head.codec, head.writer, head.kind) == (
        5,
        latest.value.size,
        latest.value.codec,
        "undo",
        "restore",
    )
    assert head.updated == latest.updated and abs(head.expires - latest.expires) < 1
    assert backend.head(StoreKey("kinds", "session", "local", "absent")) is None
