"""The browser and the server apply a Patch the same way.

A plain Dash app (dcc.Store, no dash-stash) sets a store to an initial value, returns a
``dash.Patch`` to it so dash-renderer's patch.ts applies it in Chromium, then reads the store
back as State. Each result must equal ``apply_patch`` on the server. The cases are the quirks
patch.py claims to match, then random Patch sequences (fixed seeds) built with ``dash.Patch``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from dash import Dash, Input, Output, Patch, State, dcc, html

from dash_stash.engine.patch import apply_patch, patch_operations
from tests.support.patches import random_case, same


def _aug(key: str, method: str, operand: Any) -> Callable[[Patch], Any]:
    return lambda p: getattr(p[key], method)(operand)


def _steps(*builds: Callable[[Patch], Any]) -> Callable[[Patch], None]:
    def build(p: Patch) -> None:
        for b in builds:
            b(p)

    return build


QUIRKS: list[tuple[Any, Callable[[Patch], Any]]] = [
    ({"a": None}, lambda p: p["a"].__setitem__(0, 1)),  # null becomes an object, key "0"
    ({}, lambda p: p["a"][0].__setitem__("b", 1)),  # int key next: a new list
    ({"a": 5}, lambda p: p["a"].__setitem__("b", 1)),  # a scalar in the way is replaced
    (None, lambda p: p.__setitem__("k", 1)),
    (None, lambda p: p.append(1)),
    ({"1": "a"}, lambda p: p.__setitem__(1, "b")),
    ({"z": None}, _aug("z", "__iadd__", 3)),  # null + 3 == 3
    ({"z": None}, _aug("z", "__imul__", 3)),
    ({"n": 4}, _steps(_aug("n", "__itruediv__", 2), _aug("n", "__itruediv__", 8))),
    ({"n": 2**53}, _aug("n", "__iadd__", 1)),  # doubles round
    ({"x": 0.1}, _aug("x", "__iadd__", 0.2)),
    ({"s": "ab"}, _steps(lambda p: p["s"].reverse(), _aug("s", "__iadd__", "cd"))),
    (
        {"s": "abc", "l": [1], "d": {"a": 1}},
        _steps(lambda p: p["s"].clear(), lambda p: p["l"].clear(), lambda p: p["d"].clear()),
    ),
    ({"l": [1, 2, 3]}, lambda p: p["l"].insert(-10, "x")),  # too negative: at the end
    ({"l": [1, 2, 3]}, _steps(lambda p: p["l"].insert(-1, "x"), lambda p: p["l"].insert(9, "y"))),
    ({"l": [1, 2, 3]}, lambda p: p["l"].__delitem__(7)),  # deleting past the end: no change
    ({"l": [1, 2, 3]}, lambda p: p["l"].__delitem__(-1)),
    (
        {"l": [{"v": 1}]},
        _steps(lambda p: p["l"].append({"v": 2}), lambda p: p["l"][-1].__setitem__("v", 20)),
    ),
    (
        {"l": [{"a": [1, 2]}, 1, 1.0, True, "1"]},
        _steps(lambda p: p["l"].remove({"a": [1.0, 2]}), lambda p: p["l"].remove(1)),
    ),
    (
        {"d": None, "l": None},
        _steps(lambda p: p["d"].update({"x": 1}), lambda p: p["l"].prepend(1)),
    ),
    ({"x": {"y": 1}}, lambda p: p["q"]["r"].__delitem__("s")),  # missing path: no change
]


def quirk_cases() -> list[tuple[Any, list[dict]]]:
    cases = []
    for initial, build in QUIRKS:
        p = Patch()
        build(p)
        cases.append((initial, patch_operations(p.to_plotly_json())))
    cases.append(
        ({"s": "ab"}, [{"operation": "Extend", "location": ["s"], "params": {"value": "cd"}}])
    )  # ramda concat of strings
    return cases


def random_cases(count: int) -> list[tuple[Any, list[dict]]]:
    return [random_case(random.Random(seed))[:2] for seed in range(count)]


def patch_app(cases: list[tuple[Any, list[dict]]]) -> tuple[Dash, dict[int, Any]]:
    """Click n: store := initial n; then a Patch of case n; then read the store back."""
    app = Dash(__name__)
    app.layout = html.Div(
        [
            html.Button("go", id="go"),
            dcc.Store(id="client"),
            dcc.Store(id="stage"),
            dcc.Store(id="patched"),
            html.Div(id="out"),
        ]
    )
    seen: dict[int, Any] = {}

    @app.callback(
        Output("client", "data"),
        Output("stage", "data"),
        Input("go", "n_clicks"),
        prevent_initial_call=True,
    )
    def start(n: int) -> tuple[Any, int]:
        return cases[n - 1][0], n

    @app.callback(
        Output("client", "data", allow_duplicate=True),
        Output("patched", "data"),
        Input("stage", "data"),
        prevent_initial_call=True,
    )
    def patch(n: int) -> tuple[Patch, int]:
        p = Patch()
        p._operations.extend(cases[n - 1][1])
        return p, n

    @app.callback(
        Output("out", "children"),
        Input("patched", "data"),
        State("client", "data"),
        prevent_initial_call=True,
    )
    def read(n: int, data: Any) -> str:
        seen[n] = data
        return str(n)

    return app, seen


@pytest.mark.browser
def test_browser_applies_patches_like_the_server(serve, page) -> None:
    cases = quirk_cases() + random_cases(40)
    app, seen = patch_app(cases)
    server = serve(app)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    for n in range(1, len(cases) + 1):
        page.locator("#go").click()
        page.wait_for_function(
            "n => document.getElementById('out').textContent === String(n)", arg=n, timeout=10_000
        )
    assert not errors
    mismatches = [
        (n, initial, ops, seen[n], apply_patch(initial, ops))
        for n, (initial, ops) in enumerate(cases, 1)
        if not same(seen[n], apply_patch(initial, ops))
    ]
    assert not mismatches, (
        "browser and server differ (case, initial, ops, browser, server):\n"
        + "\n".join(map(repr, mismatches))
    )
