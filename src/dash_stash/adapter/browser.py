"""The browser side: `dash_stash.js` and the two routes it calls.

Clientside callbacks and `dash_clientside.set_props` run in the browser, where a store holds
only its token. So every clientside callback that uses a `data` prop is served under the
`_dash_stash` namespace (its real namespace and name in the function name); the script
wraps it, and reads and writes through these routes:

- ``POST <prefix>_dash-stash/read`` ``{callback, stores: [{id, token}]}``: the values, as a
  server callback would read them. The callback must be a clientside callback of this app
  that declares each store as an Input or State ``data``; 400 otherwise.
- ``POST <prefix>_dash-stash/write`` ``{id, prop, token, value, callback?, base?}``: commits a
  value (or a Patch, or ``clear_data``) to a store, as a server callback's output would be:
  a merge from ``base`` (what the callback read), else a replace. With ``callback``, the store
  must be one of its outputs. Answers ``{stash: false}`` for a component that is not a
  dash-stash store, so the script leaves its value alone.

Both run inside the app's request hooks: the same session and token checks as any callback.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .. import codec
from ..errors import StashError
from . import _compat
from ._compat import stringify_id
from .callbacks import NAMESPACE, CallbackCall, Loaded
from .integration import Stash

log = logging.getLogger("dash_stash")

READ, WRITE = "_dash-stash/read", "_dash-stash/write"
MAX_READ = 1000  # stores one clientside read may name: more than a page's ALL wildcard holds


class Routes:
    """The handlers of the two routes, for one app's stash."""

    def __init__(self, stash: Stash) -> None:
        self.stash = stash

    def install(self) -> None:
        prefix = self.stash.app.config.routes_pathname_prefix or "/"
        self.stash.web.add_json_route(prefix + READ, self.read)
        self.stash.web.add_json_route(prefix + WRITE, self.write)

    def _clientside(self, output: Any) -> dict:
        for spec in _compat.callback_list(self.stash.app):
            function = spec.get("clientside_function") or {}
            if spec.get("output") == output and function.get("namespace") == NAMESPACE:
                return spec
        raise StashError(f"no clientside callback of this app has the output {output!r}")

    def read(self, body: dict) -> bytes:
        spec = self._clientside(body.get("callback"))
        name = f"clientside {spec['output']}"
        deps = spec.get("inputs", []) + spec.get("state", [])
        call = CallbackCall(self.stash, name, None)
        values, versions, named = [], [], set()
        entries = _list(body.get("stores"))
        if len(entries) > MAX_READ:  # each entry is a backend read: bound the work of one request
            raise StashError(f"{name}: at most {MAX_READ} stores per read")
        for entry in entries:
            if not isinstance(entry, dict):
                raise StashError("expected stores as a list of {id, token}")
            component_id, token = _component_id(entry.get("id")), entry.get("token")
            store_id = stringify_id(component_id)
            if not _declares(deps, component_id, ("data",)):
                raise StashError(f"{name} does not read store {store_id!r}")
            if store_id in named:
                raise StashError(f"{name} names store {store_id!r} twice")
            named.add(store_id)
            value = call.read({"id": component_id, "property": "data", "value": token})
            loaded = call.loaded.get(store_id)
            stored = loaded.encoded if loaded else None
            # JSON as stored parses in JavaScript to what dcc.Store holds; else Dash's JSON
            seen = stored if stored and stored.codec == "json" else codec.browser_json(value)
            if seen is None:
                raise StashError(
                    f"{name}, store {store_id!r}: the value ({type(value).__name__}) has no "
                    "JSON form for JavaScript; read this store in a server callback"
                )
            values.append(seen.data)
            versions.append(str(loaded.version).encode() if loaded else b"null")
        return b'{"values":[%s],"versions":[%s]}' % (b",".join(values), b",".join(versions))

    def write(self, body: dict) -> bytes:
        component_id, prop = _component_id(body.get("id")), body.get("prop")
        if prop not in ("data", "clear_data"):
            raise StashError(f"cannot write the {prop!r} prop of a store")
        store_id = stringify_id(component_id)
        token = body.get("token")
        spec = self.stash.stores.get(component_id) or (
            token is not None and self.stash.spec_from_token(component_id, token) or None
        )
        if spec is None:
            return b'{"stash":false}'
        name = "dash_clientside.set_props"
        if body.get("callback") is not None:
            callback = self._clientside(body["callback"])
            name = f"clientside {callback['output']}"
            if not _declares(_outputs(callback), component_id, ("data", "clear_data")):
                raise StashError(f"{name} does not output store {store_id!r}")
        call = CallbackCall(self.stash, name, None)
        with call.errors(store_id):
            if token is None:
                call.located[store_id] = self.stash.locate_fresh(component_id, spec)
            else:
                located = call.locate({"id": component_id, "value": token})
                base = body.get("base")
                if isinstance(base, dict) and type(base.get("version")) is int:
                    typed = self.stash.typed(spec)
                    encoded = self.stash.engine.encode(base.get("value"), store_id, typed=typed)
                    call.loaded[store_id] = Loaded(located, base["version"], encoded)
        value = call.write({"id": component_id, "property": prop}, body.get("value"))
        return b'{"stash":true,"value":%s}' % json.dumps(value).encode()


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise StashError("expected a list of stores")
    return value


def _component_id(value: Any) -> str | dict:
    """A component id as Dash makes them: a string, or a dict of strings, numbers and
    booleans (pattern-matching); anything else is a crafted request."""
    if isinstance(value, str) or (
        isinstance(value, dict)
        and value
        and all(
            isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in value.items()
        )
    ):
        return value
    raise StashError(f"not a component id: {json.dumps(value)[:100]}")


def _outputs(spec: dict) -> list[dict]:
    found = []
    for text in spec["output"].strip(".").split("..."):
        component, _, prop = text.rpartition(".")
        found.append({"id": component, "property": prop.split("@")[0]})
    return found


def _declares(deps: list[dict], component_id: Any, props: tuple[str, ...]) -> bool:
    """Does a callback's Input/State/Output list name this store (wildcards allowed)?"""
    wanted = stringify_id(component_id)
    for dep in deps:
        if dep.get("property", "").split("@")[0] not in props:
            continue
        declared = dep.get("id")
        if isinstance(declared, str) and declared.startswith("{"):
            try:
                declared = json.loads(declared)
            except ValueError:
                continue
        if stringify_id(declared) == wanted:
            return True
        if (
            isinstance(declared, dict)
            and isinstance(component_id, dict)
            and declared.keys() == component_id.keys()
            and all(isinstance(v, list) or v == component_id[k] for k, v in declared.items())
        ):
            return True
    return False
