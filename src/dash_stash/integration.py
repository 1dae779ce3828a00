"""dash-stash for one Dash app: its backend, its token secret, its stores and their data.

`init(app)` creates the `Stash`; every request then knows its stash and browser session
(`web.py`), `Store.to_plotly_json` asks it for tokens, and `callbacks.py` asks it where a
store's value lives.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dash import Dash
from dash._utils import stringify_id

from . import browser, codec, scopes, web
from .backends import Retention, StoreKey, open_backend
from .callbacks import CallbackWiring
from .component import Store, StoreRegistry, StoreSpec
from .engine import StashEngine
from .errors import StashError, TokenError
from .tokens import Signer, Token, is_token_text

log = logging.getLogger("dash_stash")

DEFAULT_DIR = ".dash_stash"


def default_backend_url() -> str:
    """`DASH_STASH_BACKEND`, else a SQLite file under ./.dash_stash/."""
    return os.environ.get("DASH_STASH_BACKEND") or f"sqlite:///{DEFAULT_DIR}/stash.db"


def init(
    app: Dash,
    backend: str | None = None,
    secret: str | bytes | None = None,
    *,
    namespace: str | None = None,
    max_value_bytes: int = 512 * 1024 * 1024,
    retention: Retention | None = None,
    cookie_name: str = web.COOKIE,
    typed: bool = False,
) -> Stash:
    """Give `app` server-side stores. Call once per app, before it serves requests.

    `backend` is a URL (`memory://`, `sqlite:///path.db`, `redis://host:port/0`); without it,
    `DASH_STASH_BACKEND`, else SQLite under `./.dash_stash/`. `secret` signs tokens: else
    `DASH_STASH_SECRET`, else the Flask `secret_key`, else one generated once and kept in
    the backend so that every worker agrees. `typed=True` makes every `Store` keep values
    exactly (numpy arrays, Timestamps, tuples...) unless it says `typed=False`; by default a
    value reads back as `dcc.Store` gives it back (see the README).
    """
    if getattr(app, "_dash_stash", None) is not None:
        raise StashError(
            "dash_stash.init(app) was called twice for this app; call it once, "
            "right after creating the app"
        )
    stash = Stash(
        app,
        backend or default_backend_url(),
        secret,
        namespace=namespace,
        max_value_bytes=max_value_bytes,
        retention=retention,
        cookie_name=cookie_name,
        typed=typed,
    )
    app._dash_stash = stash  # type: ignore[attr-defined]
    return stash


def current_stash(what: str) -> Stash | None:
    """The stash of the app serving this request; None outside a request."""
    if not web.in_request():
        return None
    stash = web.current_owner()
    if stash is None:
        raise StashError(
            f"{what}: this app has no dash-stash; call dash_stash.init(app) after creating it"
        )
    return stash


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
        cookie_name: str,
        typed: bool = False,
    ) -> None:
        self.app = app
        self.typed_default = typed
        self.namespace = namespace or _default_namespace(app)
        self.engine = StashEngine(
            open_backend(backend_url, retention), max_value_bytes=max_value_bytes
        )
        self.signer = Signer(self._secret(secret), self.namespace)
        self.stores = StoreRegistry()  # this app's stores: seen in its layouts or minted
        self._seeded: dict[str, float] = {}  # seed hash -> when this process last kept it
        self.callbacks = CallbackWiring(self)  # checks Dash's internals now, not at a click
        web.FlaskWeb(cookie_name).install(app.server, self, self.callbacks.update)
        browser.Routes(self).install()

    # -- secret and session ------------------------------------------------------------

    def _secret(self, secret: str | bytes | None) -> str | bytes:
        secret = secret or os.environ.get("DASH_STASH_SECRET") or self.app.server.secret_key
        if secret:
            return secret
        key = StoreKey(self.namespace, "", "app", "secret")
        record = self.engine.backend.read(key)
        if record is None:  # the first worker ever: commit one, unless another was quicker
            fresh = codec.encode(secrets.token_hex(32))
            record = self.engine.backend.commit(
                key, lambda latest: latest.value if latest else fresh, ttl=100 * 365 * 86400.0
            )
        return str(codec.decode(record.value))

    def session_id(self) -> str:
        return web.session_id()

    # -- tokens ------------------------------------------------------------------------

    def mint(self, store: Store) -> str:
        """The token a layout's `Store` sends to the browser for a fresh scope instance."""
        spec = self.own(store)
        return self.token(
            stringify_id(store.id), spec, scopes.new_instance(spec.scope), 0, spec.seed
        )

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

    def own(self, store: Store) -> StoreSpec:
        """Record `store` as one of this app's stores, its layout data kept as its seed."""
        spec = store._stash_spec
        if store._stash_seed is None:  # once per Store object: a static layout encodes once
            store._stash_seed = None, ""
            if store._stash_initial is not None:
                encoded = self.engine.encode(
                    store._stash_initial, stringify_id(store.id), self.typed(spec)
                )
                seed = hashlib.blake2b(
                    encoded.codec.encode() + b"\0" + encoded.data, digest_size=16
                ).hexdigest()
                store._stash_seed = encoded, seed
        encoded, spec.seed = store._stash_seed
        if encoded is not None and time.monotonic() - self._seeded.get(spec.seed, -1e9) > 3600:
            # At most hourly per process: keep the seed alive, write it only if it is absent.
            key = self._seed_key(spec.seed)
            if not self.engine.backend.touch(key, scopes.SEED_TTL):
                self.engine.backend.commit(key, encoded, ttl=scopes.SEED_TTL, writer="layout")
            self._seeded[spec.seed] = time.monotonic()
        self.stores.add(store.id, spec)
        return spec

    def spec_from_token(self, component_id: Any, sent: Any) -> StoreSpec | None:
        """Recognise a store this process has not seen (a page's layout function ran on
        another worker) by the token the browser sent; None if it is not one of ours."""
        try:
            token = self.signer.verify(sent, self.session_id())
        except TokenError:
            return None
        if token.store_id != stringify_id(component_id) or token.scope not in scopes.SCOPES:
            return None
        policy = token.policy if token.policy in ("last-writer-wins", "raise") else None
        if policy is None:
            log.warning(
                "dash-stash: store %s resolves conflicts with a function this process "
                "has not seen; it uses last-writer-wins here. Put the store in the "
                "app's layout or validation_layout so every worker knows it.",
                token.store_id,
            )
        spec = StoreSpec(
            token.scope,
            token.ttl or scopes.DEFAULT_TTL[token.scope],
            policy or "last-writer-wins",
            token.typed,
            token.seed,
            raw_id=component_id,
        )
        self.stores.add(component_id, spec)
        return spec

    def own_layouts(self) -> None:
        """Find the stores of the app's layout, its validation layout and its static page
        layouts, so that every worker knows them before any of them serves a page."""
        import dash

        layouts = [self.app._layout_value(), self.app.validation_layout]  # Dash calls both
        layouts += [page.get("layout") for page in dash.page_registry.values()]
        for layout in layouts:
            if callable(layout) or layout is None:
                continue  # a page's layout function: its stores are owned when minted
            nodes = [layout] if isinstance(layout, Store) else []
            if hasattr(layout, "_traverse"):
                nodes += list(layout._traverse())
            elif isinstance(layout, (list, tuple)):
                for item in layout:
                    nodes += [item, *getattr(item, "_traverse", lambda: [])()]
            for node in nodes:
                if isinstance(node, Store):
                    self.own(node)

    def _seed_key(self, seed: str) -> StoreKey:
        return StoreKey(self.namespace, "", "seed", seed)

    def seed_value(self, seed: str) -> Any:
        """The layout data a store starts from (None when the layout gave none)."""
        if not seed:
            return None
        record = self.engine.backend.read(self._seed_key(seed), scopes.SEED_TTL)
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
        if token is not None:
            instance = token.instance
        elif sent is None:
            instance = scopes.unbound_instance(spec.scope)
        else:  # a bad token: a fresh instance, so it can reach nothing that exists
            instance = scopes.new_instance(spec.scope)
        key = StoreKey(self.namespace, self.session_id(), instance, store_id)
        return Located(key, token, token.seed if token else spec.seed)

    def locate_fresh(self, component_id: Any, spec: StoreSpec) -> Located:
        """A new scope instance of a store, for a write whose browser tab we do not know
        (`set_props` on a store the callback does not read); `local` is the browser's own."""
        instance = scopes.new_instance(spec.scope)
        key = StoreKey(self.namespace, self.session_id(), instance, stringify_id(component_id))
        return Located(key, None, spec.seed)


def _default_namespace(app: Dash) -> str:
    name = app.config.get("name") or "app"
    if name == "__main__":
        name = Path(sys.argv[0]).stem or "app"
    return f"{name}{app.config.get('requests_pathname_prefix') or '/'}"
