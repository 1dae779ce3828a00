"""dash-stash: a drop-in `dcc.Store` whose data lives on the server.

    import dash_stash
    dash_stash.init(app)
    app.layout = html.Div([..., dash_stash.Store(id="user_data", data={})])

Callbacks stay as they are: they read the real value and return a new one (or a `Patch`);
concurrent writes merge on the server instead of overwriting each other.
"""

from .backends import Backend, Record, Retention, StoreKey, open_backend
from .component import Store
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
from .inspect import InspectError, Version, history, restore
from .integration import Stash, init

__version__ = "0.1.0"

# Served by Dash from /_dash-component-suites/dash_stash/ on every page (its ComponentMeta
# registers this package because `Store` subclasses a Dash component), plain JS: the browser
# side of stores (browser.py) and the dev tools' "Stores" panel (inspector.py).
_js_dist = [
    {"relative_package_path": "dash_stash.js", "namespace": "dash_stash"},
    {"relative_package_path": "panel.js", "namespace": "dash_stash"},
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
