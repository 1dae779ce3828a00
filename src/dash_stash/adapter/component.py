"""The `Store` component: a `dcc.Store` whose browser-side `data` is a token.

The value given as `data=` (any storable value: a dict, a DataFrame...) stays in Python; when
Dash serializes the layout, `to_plotly_json` asks the app's stash for a token and sends that.
Each app's stash keeps a `StoreRegistry` of the stores it has seen in its layouts and minted
tokens for: that is how the callback wrapper knows which ids are stash stores *of this app*
(another app in the same process may use the same id for a plain `dcc.Store`).
"""

from __future__ import annotations

import threading
from typing import Any

from dash import MATCH, dcc

from .._types import ConflictPolicy, GroupOf, StoreSpec
from ..scopes import DEFAULT_TTL, browser_storage, check_scope
from . import web
from ._compat import stringify_id


class StoreRegistry:
    """The stash `Store` ids of one app, by Dash's string form of the id."""

    def __init__(self) -> None:
        self._specs: dict[str, StoreSpec] = {}
        self._lock = threading.Lock()
        self.generation = 0  # bumped on every new id, so the wrapper knows to look again

    def add(self, component_id: Any, spec: StoreSpec) -> None:
        key = stringify_id(component_id)
        with self._lock:
            if key not in self._specs:
                self.generation += 1
            self._specs[key] = spec

    def get(self, component_id: Any) -> StoreSpec | None:
        return self._specs.get(stringify_id(component_id))

    def matches(self, pattern: Any) -> bool:
        """Does a callback's id (maybe with MATCH/ALL wildcards) name any stash store?"""
        if not isinstance(pattern, dict):
            return stringify_id(pattern) in self._specs
        specs = list(self._specs.values())
        return any(
            isinstance(s.raw_id, dict)
            and s.raw_id.keys() == pattern.keys()
            and all(_is_wildcard(v) or s.raw_id[k] == v for k, v in pattern.items())
            for s in specs
        )


def _is_wildcard(value: Any) -> bool:
    return isinstance(value, type(MATCH))  # MATCH, ALL, ALLSMALLER share one class


class Store(dcc.Store):
    """A drop-in `dcc.Store` whose data lives on the server.

    Takes every `dcc.Store` prop. Adds `on_conflict` ("last-writer-wins", "raise", or a
    function `(base, ours, theirs) -> merged`) for concurrent full-value writes, and `ttl`,
    the idle lifetime on the server in seconds (default by scope), and `typed`: True keeps
    every value exactly as stored (numpy arrays, Timestamps, tuples, int keys...) instead of
    as `dcc.Store` gives it back (the default; see the README); None takes `init`'s default.

    `storage_type="app"` keeps one value that every session shares (open pages follow its
    changes live); `group=` (a function of the request returning a group name, e.g. the
    logged-in user's team) keeps one value per group instead, read and written only by
    requests that `group` puts in it. The function must rest on what the server trusts (a
    login), not on anything a request can choose.
    """

    def __init__(
        self,
        id: Any = None,  # noqa: A002 - Dash's own name for it
        data: Any = None,
        storage_type: str = "memory",
        *,
        on_conflict: ConflictPolicy = "last-writer-wins",
        ttl: float | None = None,
        typed: bool | None = None,
        group: GroupOf | None = None,
        **kwargs: Any,
    ) -> None:
        if id is None:
            raise ValueError("dash_stash.Store needs an id: callbacks find it by id")
        scope = check_scope(storage_type)
        if group is not None and (scope != "app" or not callable(group)):
            raise ValueError(
                f"Store {id!r}: group= takes a function of the request and needs "
                f'storage_type="app"; got group={group!r} with storage_type={scope!r}'
            )
        super().__init__(id=id, storage_type=browser_storage(scope), **kwargs)
        self._stash_initial = data
        self._stash_seed: tuple[Any, str] | None = None  # (encoded, hash) once computed
        self._stash_spec = StoreSpec(
            scope, ttl or DEFAULT_TTL[scope], on_conflict, typed, raw_id=id, group=group
        )

    def to_plotly_json(self) -> dict:
        out = super().to_plotly_json()
        out["props"]["data"] = web.current_stash(f"the layout of Store {self.id!r}").mint(self)
        return out
