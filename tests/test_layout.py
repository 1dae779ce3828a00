"""The package's shape: a Dash-free core under one Dash adapter, and no import cycle.

Both are read from the source (every import, including those inside functions and under
`TYPE_CHECKING`), and the core is also imported in a fresh interpreter to see what loads.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "dash_stash"
# Where Dash and web frameworks may be imported: the adapter, the demo built on it, and the
# command line that serves the demo (it loads the demo only for `dash-stash demo`).
ABOVE_CORE = ("dash_stash.adapter", "dash_stash.demo", "dash_stash.cli")
WEB = ("dash", "dash_html_components", "flask", "werkzeug", "fastapi", "starlette", "quart")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The modules `name` imports, resolved: dash_stash's own ones by module, others by top
    package name."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{alias.name}" for alias in node.names]
            found |= {s for s in subs if s in MODULES} or {target}
            if any(s not in MODULES for s in subs):
                found.add(target)
    return {m if m.startswith("dash_stash") else m.split(".")[0] for m in found}


def test_the_core_imports_neither_dash_nor_a_web_framework_nor_the_adapter():
    core = [m for m in MODULES if not m.startswith(ABOVE_CORE) and m != "dash_stash"]
    assert {"dash_stash.engine.store", "dash_stash.codec.registry", "dash_stash.tokens"} <= set(
        core
    )
    wrong = {m: sorted(i for i in imports(m) if i in WEB or i.startswith(ABOVE_CORE)) for m in core}
    assert {m: i for m, i in wrong.items() if i} == {}


def test_no_module_of_the_package_is_part_of_an_import_cycle():
    graph = {m: {i for i in imports(m) if i in MODULES} for m in MODULES}
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(path[path.index(n) :] + [n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


@pytest.mark.parametrize(
    "statement",
    [
        "import dash_stash",
        "import dash_stash.engine, dash_stash.codec, dash_stash.backends.sqlite, "
        "dash_stash.tokens, dash_stash.scopes, dash_stash.inspect, dash_stash.cli",
    ],
)
def test_importing_the_core_in_a_fresh_interpreter_loads_no_dash_and_no_web_framework(statement):
    code = f"{statement}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}}))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(ast.literal_eval(out))
    assert "dash_stash" in loaded
    assert loaded & set(WEB) == set()


def test_the_public_names_still_reach_the_adapter():
    code = (
        "import dash_stash, sys\n"
        "assert 'dash' not in sys.modules\n"
        "store = dash_stash.Store(id='s', data=1)\n"
        "print(type(store).__mro__[1].__module__, dash_stash.init.__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["dash.dcc.Store", "dash_stash.adapter.install"]
