"""dash-stash: a drop-in `dcc.Store` whose data lives on the server.

    import dash_stash
    dash_stash.init(app)
    app.layout = html.Div([..., dash_stash.Store(id="user_data", data={})])

Callbacks stay as they are: they read the real value and return a new one (or a `Patch`);
concurrent writes merge on the server instead of overwriting each other.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .backends import Backend, Record, Retention, StoreKey, open_backend
from .errors import (
    BackendError,
    ConflictError,
    CorruptRecordError,
    EncodeError,
    PatchError,
    QuotaError,
    StashError,
    TokenError,
    ValueTooLargeError,
)
from .inspect import InspectError, Version

if TYPE_CHECKING:  # for type checkers; at run time `__getattr__` below imports them
    from .adapter.api import history, restore
    from .adapter.component import Store
    from .adapter.install import init
    from .adapter.integration import Stash

# The Dash adapter's names, imported on first use: `import dash_stash.engine` (or codec,
# backends, tokens...) loads neither Dash nor a web framework.
_ADAPTER = {
    "Store": "component",
    "Stash": "integration",
    "init": "install",
    "history": "api",
    "restore": "api",
}


def __getattr__(name: str) -> Any:
    if name not in _ADAPTER:
        raise AttributeError(f"module 'dash_stash' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".adapter.{_ADAPTER[name]}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

# Served by Dash from /_dash-component-suites/dash_stash/ on every page (its ComponentMeta
# registers this package because `Store` subclasses a Dash component), plain JS: the browser
# side of stores (adapter/browser.py) and the dev tools' "Stores" panel (adapter/inspector.py).
_js_dist = [
    {"relative_package_path": "adapter/dash_stash.js", "namespace": "dash_stash"},
    {"relative_package_path": "adapter/panel.js", "namespace": "dash_stash"},
]

__all__ = [
    "Backend",
    "BackendError",
    "ConflictError",
    "CorruptRecordError",
    "EncodeError",
    "InspectError",
    "PatchError",
    "QuotaError",
    "Record",
    "Retention",
    "Stash",
    "StashError",
    "Store",
    "StoreKey",
    "TokenError",
    "ValueTooLargeError",
    "Version",
    "history",
    "init",
    "open_backend",
    "restore",
]
