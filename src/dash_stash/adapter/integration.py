"""dash-stash for one Dash app: its backend, its token secret, its stores and their data.

`init(app)` (install.py) creates the `Stash`; every request then knows its stash and browser
session (`web.py`), `Store.to_plotly_json` asks it for tokens, and `callbacks.py` asks it where
a store's value lives.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dash import Dash

from .. import codec, scopes
from .._types import StoreSpec
from ..backends import Record, Retention, StoreKey, Usage, open_backend
from ..engine import StashEngine, Write
from ..errors import QuotaError, StashError, TokenError
from ..tokens import Signer, Token, is_token_text
from . import _compat, web
from ._compat import stringify_id
from .component import Store, StoreRegistry

log = logging.getLogger("dash_stash")

# One callback's value: far above what a page shows, far below what fills a disk. Raise it
# with init(max_value_bytes=...) for stores that really hold more.
DEFAULT_MAX_VALUE_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_SESSION_BYTES = 256 * 1024 * 1024  # across the stores of one browser session
DEFAULT_MAX_SESSION_INSTANCES = 1000  # live page loads / tabs with written stores, per session
_OWNER_TTL = 7 * 86400.0  # a namespace stays claimed this long after its app last ran
_SEEDS_KEPT = 4096  # seeds this process remembers having kept alive (an LRU, so bounded)


_STASHES: dict[str, Stash] = {}  # by namespace, for `history(key)` outside a request


def register(stash: Stash) -> None:
    """Make `stash` the one `stash_for(stash.namespace)` finds."""
    _STASHES[stash.namespace] = stash


def stashes() -> dict[str, Stash]:
    """The stashes of this process's apps, by namespace (a background job finds its own)."""
    return dict(_STASHES)


def stash_for(namespace: str) -> Stash:
    """The stash of the app (in this process) whose namespace is `namespace`."""
    stash = _STASHES.get(namespace)
    if stash is None:
        raise StashError(
            f"no app in this process called dash_stash.init with namespace {namespace!r}; "
            f"known: {', '.join(sorted(_STASHES)) or 'none'}"
        )
    return stash


@dataclass(frozen=True)
class Quota:
    """What one browser session may keep on the server."""

    max_bytes: int
    max_instances: int


@dataclass
class Located:
    """Where one store's value lives for this request, and what the browser sent for it."""

    key: StoreKey
    token: Token | None  # None: no valid token, so `key` is a fresh instance
    seed: str  # the layout data it starts from


class Stash:
    """dash-stash for one app: its engine, its signer, and its callback wiring."""

    def __init__(
        self,
        app: Dash,
        backend_url: str,
        secret: str | bytes | None,
        *,
        namespace: str | None,
        max_value_bytes: int,
        retention: Retention | None,
        cookie_name: str | None,
        quota: Quota,
        folder: str,
        server_secret: str | bytes | None = None,
        typed: bool = False,
        compression: codec.Compression = codec.Compression(),
    ) -> None:
        self.app = app
        self.folder = folder
        self.typed_default = typed
        self.namespace = namespace or _default_namespace(app, folder)
        self.quota = quota
        self.engine = StashEngine(
            open_backend(backend_url, retention),
            max_value_bytes=max_value_bytes,
            compression=compression,
        )
        self.signer = Signer(self._secret(secret, server_secret), self.namespace)
        self.stores = StoreRegistry()  # this app's stores: seen in its layouts or minted
        # Layout data of the app's static layouts, by store id: what a request without a
        # valid token starts from. Data a layout *function* rendered is named only inside
        # the token of the page it rendered, never kept here (it may be another user's).
        self._static_seeds: dict[str, str] = {}
        self._seeded: OrderedDict[str, float] = OrderedDict()  # seed -> when kept alive
        self._seeded_lock = threading.Lock()
        self._published: OrderedDict[str, float] = OrderedDict()  # store id -> when told
        self._layout_ids: set[str] = set()  # stores of the static and validation layouts
        self._owner_key = StoreKey(self.namespace, "", "app", "owner")
        self._owner_kept = time.monotonic()
        self.cookie_name = cookie_name or f"{web.COOKIE}_{_short_hash(self.namespace)}"
        self.live: Any = None  # the live route (stream.LiveRoute), set by `init`
        self.wiring: Any = None  # its callbacks' wrappers (callbacks.CallbackWiring): `init`
        self.web: web.Web | None = None  # this app's request side, on its server: set by init

    # -- secret and session ------------------------------------------------------------

    def _secret(self, secret: str | bytes | None, server_secret: str | bytes | None) -> str | bytes:
        for found, source in (
            (secret, "init(secret=...)"),
            (os.environ.get("DASH_STASH_SECRET"), "DASH_STASH_SECRET"),
            (server_secret, "the server's secret_key"),
        ):
            if found:
                log.info("dash-stash %s: tokens are signed with %s", self.namespace, source)
                return found
        key = StoreKey(self.namespace, "", "app", "secret")
        record = self.engine.backend.read(key)
        if record is None:  # the first worker ever: commit one, unless another was quicker
            fresh = codec.encode(secrets.token_hex(32))
            record = self.engine.backend.commit(
                key, lambda latest: latest.value if latest else fresh, ttl=100 * 365 * 86400.0
            )
        log.warning(
            "dash-stash %s: tokens are signed with a secret kept in the backend %s, so a "
            "copy of the backend can act as any new session; set DASH_STASH_SECRET (the "
            "same for every worker) to keep it out",
            self.namespace,
            self.engine.backend.url.split("@")[-1],
        )
        return str(codec.decode(record.value))

    def session_id(self) -> str:
        """This request's session id: what tokens are bound to (never stored)."""
        return web.session_id()

    def session_key(self) -> str:
        """This request's session as backend keys name it: a keyed hash of its id."""
        return web.session_key()

    # -- tokens ------------------------------------------------------------------------

    def mint(self, store: Store) -> str:
        """The token a layout's `Store` sends to the browser for a fresh scope instance."""
        spec, seed = self.own(store)
        store_id = stringify_id(store.id)
        if spec.scope == "app":  # the shared value: the page starts at its latest version
            key = self.shared_key(store_id, spec)
            head = self.engine.backend.head(key) if key.scope != scopes.NO_GROUP else None
            return self.token(store_id, spec, key.scope, head.version if head else 0, seed)
        return self.token(store_id, spec, scopes.new_instance(spec.scope), 0, seed)

    def shared_key(self, store_id: str, spec: StoreSpec) -> StoreKey:
        """Where this request's value of an `app` store lives: the app's one value, or the
        value of the group `spec.group` puts this request in (asked now, at every request, so
        a session that left a group reaches it no more, whatever token it kept)."""
        instance = scopes.APP
        if spec.group is not None:
            group = spec.group(web.native_request())
            if group is not None and (not isinstance(group, str) or not group):
                raise StashError(
                    f"store {store_id!r}: its group= function returned {group!r}; return "
                    "the group's name (a non-empty str), or None for a request in no group"
                )
            instance = scopes.NO_GROUP if group is None else f"group-{self.signer.group_key(group)}"
        return StoreKey(self.namespace, scopes.SHARED, instance, store_id)

    def token(self, store_id: str, spec: StoreSpec, instance: str, version: int, seed: str) -> str:
        """A signed token for this browser session, carrying the store's options."""
        policy = spec.on_conflict if isinstance(spec.on_conflict, str) else "function"
        token = Token(
            store_id, spec.scope, instance, version, seed, spec.ttl, policy, self.typed(spec)
        )
        return self.signer.sign(token, self.session_id())

    def typed(self, spec: StoreSpec) -> bool:
        """Does this store keep values exactly (else: as `dcc.Store` gives them back)?"""
        return self.typed_default if spec.typed is None else spec.typed

    def own(self, store: Store, static: bool = False) -> tuple[StoreSpec, str]:
        """Record `store` as one of this app's stores, its layout data kept as a seed;
        return its spec and the seed. `static`: the store is in a static layout (the same
        for every visitor), so its seed is what a request without a valid token reads."""
        spec = store._stash_spec
        store_id = stringify_id(store.id)
        if store._stash_seed is None:  # once per Store object: a static layout encodes once
            store._stash_seed = None, ""
            if store._stash_initial is not None:
                encoded = self.engine.encode(store._stash_initial, store_id, typed=self.typed(spec))
                store._stash_seed = encoded, _seed_of(encoded)
        encoded, seed = store._stash_seed
        if static:
            self._static_seeds[store_id] = seed
        static = static or (bool(seed) and self._static_seeds.get(store_id) == seed)
        # A layout function's data is kept only for a session that can use its token, and
        # lives as long as the instances that read it (each read refreshes it).
        if encoded is not None and (static or web.has_session()):
            self._keep_seed(seed, encoded, scopes.SEED_TTL if static else spec.ttl)
        if not static and seed and web.has_session():
            # A write that comes without any token (see `scopes.unbound_instance`) starts
            # from the data rendered last *for this session*, never another session's.
            key = self._unbound_seed_key(store_id, spec.scope)
            self.engine.backend.commit(key, codec.encode(seed), ttl=spec.ttl, writer="layout")
        self.stores.add(store.id, spec)
        if store_id not in self._layout_ids and web.has_session():
            self._publish(store_id, spec)
        return spec, seed

    # -- stores other workers rendered -------------------------------------------------------

    def _publish(self, store_id: str, spec: StoreSpec) -> None:
        """Tell every process that `store_id` is one of this app's stores (kept in the
        backend, at most hourly per process): a store rendered by a layout function or a
        callback is known only to the process that rendered it, and another process that
        serves the page's next callback would send a value written to it (an Output, a
        `set_props`) to the browser as it is, as for any other component (`spec_of`)."""
        with self._seeded_lock:
            kept = self._published.get(store_id)
            if kept is not None and time.monotonic() - kept < 3600.0:
                return
            self._published[store_id] = time.monotonic()
            self._published.move_to_end(store_id)
            while len(self._published) > _SEEDS_KEPT:
                self._published.popitem(last=False)
        policy = spec.on_conflict if isinstance(spec.on_conflict, str) else "function"
        fields = {
            "id": spec.raw_id if spec.raw_id is not None else store_id,
            "scope": spec.scope,
            "ttl": spec.ttl,
            "policy": policy,
            "typed": spec.typed,
            "group": spec.group is not None,
        }
        key = self._published_key(store_id)
        ttl = max(spec.ttl, _OWNER_TTL)  # as long as a page may hold its token, and more
        self.engine.backend.commit(key, codec.encode(fields), ttl=ttl, writer="layout")

    def _published_key(self, store_id: str) -> StoreKey:
        return StoreKey(self.namespace, "", scopes.STORE_LIST, store_id)

    def spec_of(self, component_id: Any) -> StoreSpec | None:
        """The spec of `component_id` if it is one of this app's stores: known to this
        process, or rendered by another one (`_publish`); None for any other component.
        Asked before a value is written to a component's `data`, so that a store's value
        never reaches the browser."""
        spec = self.stores.get(component_id)
        if spec is not None:
            return spec
        record = self.engine.backend.read(self._published_key(stringify_id(component_id)))
        if record is None:
            return None
        fields = codec.decode(record.value)
        if fields["group"]:
            raise StashError(
                f"store {stringify_id(component_id)!r} is shared by a group, and this process "
                "has not seen it, so it does not know its group= function; put the store in "
                "the app's layout or validation_layout so every worker knows it"
            )
        spec = self._learned_spec(
            fields["id"], fields["scope"], fields["ttl"], fields["policy"], fields["typed"]
        )
        self.stores.add(fields["id"], spec)
        return spec

    @staticmethod
    def _learned_spec(
        component_id: Any, scope: str, ttl: float, policy: str, typed: bool | None
    ) -> StoreSpec:
        """The spec of a store this process has not seen, from what another told of it (a
        token, `_publish`): a conflict function it cannot know is last-writer-wins here."""
        known = policy if policy in ("last-writer-wins", "raise") else None
        if known is None:
            log.warning(
                "dash-stash: store %s resolves conflicts with a function this process "
                "has not seen; it uses last-writer-wins here. Put the store in the "
                "app's layout or validation_layout so every worker knows it.",
                stringify_id(component_id),
            )
        return StoreSpec(
            scope,
            ttl or scopes.DEFAULT_TTL[scope],
            known or "last-writer-wins",
            typed,
            raw_id=component_id,
        )

    def fresh_with(self, component_id: Any, spec: StoreSpec, value: Any) -> str:
        """A token for a new scope instance of a store that starts from `value` (kept as
        a seed, as layout data is: no instance is written until someone writes it)."""
        store_id = stringify_id(component_id)
        encoded = self.engine.encode(value, store_id, typed=self.typed(spec))
        seed = _seed_of(encoded)
        self._keep_seed(seed, encoded, spec.ttl)
        return self.token(store_id, spec, scopes.new_instance(spec.scope), 0, seed)

    def _unbound_seed_key(self, store_id: str, scope: str) -> StoreKey:
        instance = f"{scopes.unbound_instance(scope)}-seed"
        return StoreKey(self.namespace, self.session_key(), instance, store_id)

    def _unbound_seed(self, store_id: str, spec: StoreSpec) -> str:
        """The layout data a write without a token starts from: the static layout's, else
        what was last rendered for this session (a store made by a callback or a layout
        function), else none."""
        if store_id in self._static_seeds:
            return self._static_seeds[store_id]
        record = self.engine.backend.read(self._unbound_seed_key(store_id, spec.scope))
        return str(codec.decode(record.value)) if record else ""

    def _keep_seed(self, seed: str, encoded: codec.Encoded, ttl: float) -> None:
        """Write a seed if it is absent, else push its expiry; at most hourly per process."""
        with self._seeded_lock:
            kept = self._seeded.get(seed)
            if kept is not None and time.monotonic() - kept < min(3600.0, ttl / 4):
                return
            self._seeded[seed] = time.monotonic()
            self._seeded.move_to_end(seed)
            while len(self._seeded) > _SEEDS_KEPT:
                self._seeded.popitem(last=False)
        key = self._seed_key(seed)
        if not self.engine.backend.touch(key, ttl):
            self.engine.backend.commit(key, encoded, ttl=ttl, writer="layout")

    def spec_from_token(self, component_id: Any, sent: Any) -> StoreSpec | None:
        """Recognise a store this process has not seen (a page's layout function ran on
        another worker) by the token the browser sent; None if it is not one of ours."""
        try:
            token = self.signer.verify(sent, self.session_id())
        except TokenError:
            return None
        if token.store_id != stringify_id(component_id) or token.scope not in scopes.SCOPES:
            return None
        if token.scope == "app" and token.instance != scopes.APP:
            raise StashError(
                f"store {token.store_id!r} is shared by a group, and this process has not "
                "seen it, so it does not know its group= function; put the store in the "
                "app's layout or validation_layout so every worker knows it"
            )
        spec = self._learned_spec(component_id, token.scope, token.ttl, token.policy, token.typed)
        self.stores.add(component_id, spec)
        return spec

    def own_layouts(self) -> None:
        """Find the stores of the app's layout, its validation layout and its static page
        layouts, so that every worker knows them before any of them serves a page.

        Only static layouts (the same for every visitor) give the layout data a request
        without a valid token starts from; a layout function is never called here (what it
        renders belongs to one request), and a validation layout's data is not shown to
        anyone (Dash renders it from the layout function, outside any request)."""
        import dash

        layouts = _compat.static_layouts(self.app)
        layouts += [page.get("layout") for page in dash.page_registry.values()]
        for layout in layouts:
            static = layout is not self.app.validation_layout
            if callable(layout):
                continue  # a layout function: its stores are owned when minted
            for node in _compat.components(layout):
                if isinstance(node, Store):  # every process knows these: none is published
                    self._layout_ids.add(stringify_id(node.id))
                    self.own(node, static=static)
        self.claim_namespace()

    def claim_namespace(self) -> None:
        """Record this app as its namespace's owner; refuse to serve if another app (another
        folder, other stores and callbacks) owns it: the two would read each other's stores.
        The same folder (a redeploy) or the same stores and callbacks (another copy of the
        app) may take it over."""
        layout = sorted(self._static_seeds) + ["--"] + sorted(self.app.callback_map)
        mine = {
            "folder": os.path.abspath(self.folder),
            "layout": _short_hash("\n".join(layout)),
        }
        fresh = codec.encode(mine)

        def update(latest: Any) -> codec.Encoded:
            owner = codec.decode(latest.value) if latest else mine
            if owner["folder"] != mine["folder"] and owner["layout"] != mine["layout"]:
                raise StashError(
                    f"dash-stash: the namespace {self.namespace!r} on this backend belongs to "
                    f"another app (in {owner['folder']}, with other stores and callbacks) "
                    "that ran within the last week; two apps in one namespace would read "
                    "each other's stores. Give this app its own: dash_stash.init(app, "
                    "namespace=...)"
                )
            return fresh

        self.engine.backend.commit(self._owner_key, update, ttl=_OWNER_TTL, writer="init")
        self._owner_kept = time.monotonic()

    def keep_claim(self) -> None:
        """Before each request: keep the namespace claimed (at most hourly)."""
        if time.monotonic() - self._owner_kept > 3600:
            self._owner_kept = time.monotonic()
            self.engine.backend.touch(self._owner_key, _OWNER_TTL)

    def keys(self, store_id: str | None = None) -> list[StoreKey]:
        """The live keys of this app's stores in every session (of one store id if given),
        for `dash_stash.history(key)` / `restore(key, version)` outside a callback."""
        found = self.engine.backend.keys(self.namespace)
        return [
            k
            for k in found
            if k.session and (store_id is None or k.store_id == store_id)  # not the app's own
        ]

    def _seed_key(self, seed: str) -> StoreKey:
        return StoreKey(self.namespace, "", "seed", seed)

    def seed_value(self, seed: str, ttl: float) -> Any:
        """The layout data a store starts from (None when the layout gave none); reading it
        keeps it alive for `ttl` more (a static layout's: for `SEED_TTL`)."""
        if not seed:
            return None
        if seed in self._static_seeds.values():
            ttl = max(ttl, scopes.SEED_TTL)
        record = self.engine.backend.read(self._seed_key(seed), ttl)
        return codec.decode(record.value) if record else None

    def locate(self, component_id: Any, sent: Any, spec: StoreSpec) -> Located:
        """Check what the browser sent for a store and say where its value lives."""
        store_id = stringify_id(component_id)
        token = None
        if sent is not None and not is_token_text(sent):
            raise StashError(
                f"the browser sent a raw value ({type(sent).__name__}) where the store's token "
                "belongs: something in the browser set its data without the server (a "
                "component's setProps, a script writing browser storage, or dash-stash's "
                "browser script is not loaded). Write the store from a callback instead; "
                "dash-stash does not read it, so as not to show the wrong value."
            )
        if sent is not None:
            try:
                token = self.signer.verify(sent, self.session_id())
                if token.store_id != store_id or token.scope != spec.scope:
                    raise TokenError("token of another store")
            except TokenError as exc:
                log.warning(
                    "dash-stash: store %s: ignoring the token the browser sent (%s); "
                    "the store starts from its layout data",
                    store_id,
                    exc,
                )
                token = None
        if spec.scope == "app":
            key = self.shared_key(store_id, spec)
            if token is not None and token.instance != key.scope:
                log.warning(
                    "dash-stash: store %s: the browser's token is of another group than "
                    "the request is in now; it reads the request's group",
                    store_id,
                )
                token = None
        elif token is not None:
            key = StoreKey(self.namespace, self.session_key(), token.instance, store_id)
        elif sent is None:
            instance = scopes.unbound_instance(spec.scope)
            key = StoreKey(self.namespace, self.session_key(), instance, store_id)
        else:  # a bad token: a fresh instance, so it can reach nothing that exists
            instance = scopes.new_instance(spec.scope)
            key = StoreKey(self.namespace, self.session_key(), instance, store_id)
        if token is not None:
            seed = token.seed
        elif sent is None:
            seed = self._unbound_seed(store_id, spec)
        else:
            seed = self._static_seeds.get(store_id, "")
        return Located(key, token, seed)

    def room(self, usage: Usage) -> int:
        """How many bytes a key's next value may have within its session's quota, given
        the session's `usage` of it; `QuotaError` if the session may not create it at all."""
        if not usage.has_instance and usage.instances >= self.quota.max_instances:
            raise QuotaError(
                f"this browser session already keeps {usage.instances:,} page loads or tabs "
                f"of stores (the limit is {self.quota.max_instances:,}); old ones expire "
                "when idle. Raise it with dash_stash.init(app, max_session_instances=...)"
            )
        return self.quota.max_bytes - usage.other_bytes

    def commit(self, key: StoreKey, write: Write, **options: Any) -> Record | None:
        """Commit `write` for this request's browser session: every commit a browser causes
        (a callback's output, a browser-side write, a restore) goes through here, so none
        can take its session over its quota. `options`: see `StashEngine.commit`.

        A shared (`app`) value belongs to no session, so no session's quota counts it; it is
        bounded by `max_value_bytes`. A request in no group of a group store writes nothing."""
        if key.session != scopes.SHARED:
            return self.engine.commit(key, write, quota=self.room, **options)
        if key.scope == scopes.NO_GROUP:
            raise StashError(
                "this request is in no group of the store (its group= function returned "
                "None), so it may not write it; nothing was written"
            )
        return self.engine.commit(key, write, **options)

    def locate_fresh(
        self, component_id: Any, spec: StoreSpec, session: str | None = None
    ) -> Located:
        """A new scope instance of a store, for a write whose browser tab we do not know
        (`set_props` on a store the callback does not read); `local` is the browser's own.
        It starts from what a static layout gives every visitor, never a rendered seed.
        `session`: the session key, outside a request (a background job)."""
        store_id = stringify_id(component_id)
        if spec.scope == "app":
            key = self.shared_key(store_id, spec)
        else:
            instance = scopes.new_instance(spec.scope)
            key = StoreKey(self.namespace, session or self.session_key(), instance, store_id)
        return Located(key, None, self._static_seeds.get(store_id, ""))


def _seed_of(encoded: codec.Encoded) -> str:
    """A seed's name: the hash of its encoding."""
    data = encoded.codec.encode() + b"\0" + encoded.data
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def _default_namespace(app: Dash, folder: str) -> str:
    """The app's module name, a hash of the folder it lives in (two projects whose module is
    `app.py` never share) and its URL prefix."""
    name = app.config.get("name") or "app"
    if name == "__main__":
        name = Path(sys.argv[0]).stem or "app"
    prefix = app.config.get("requests_pathname_prefix") or "/"
    return f"{name}-{_short_hash(os.path.abspath(folder))}{prefix}"
