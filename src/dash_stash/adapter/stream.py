"""Live updates for open pages: ``POST <prefix>_dash-stash/live`` (issue 13).

The page (`dash_stash.js`) posts ``{stores: [{id, token}]}``: the stores it shows and their
tokens, so the versions it has. The answer is a stream of Server-Sent Events: one
``data: {"stores": [{id, token}]}`` event for each burst of changes (at most one per
`interval`), a fresh token per changed store, which the page sets on the store exactly as if
a callback had returned it, so its dependent callbacks fire; a ``: ping`` comment every
`heartbeat` seconds (a page that went away fails the next one and frees the stream); the
stream ends after `hold` seconds, and the page posts again with the tokens it has then (so
it catches up on anything missed, as after a network drop).

Only the browser's own stores are watched: each token must verify for this session, and an
`app` store with `group=` only while the request is in the token's group (checked again
before each event: a session that leaves the group stops hearing of it). A page hears of a
`memory` or `session` store only for its own instance.

Which pages get a held stream (decision 65): a held stream costs a server thread on a
threaded server, so each process holds at most `Web.stream_slots()` of them at once (half
of gunicorn's gthread pool; no limit where a held response is cheap: gevent or eventlet
greenlets, werkzeug's thread-per-request server; none on a one-request-at-a-time worker),
or `init(live_streams=N)`. Where slots are limited, only a *hot* page holds one: a page
that shows an `app` store (others write it at any time) or says that one of its
background callbacks is running (`hot`). Every other answer is immediate (what changed, if
anything) and tells the page when to ask again (`retry`): after `poll` seconds for a hot
page, and for an idle one (only its own `session`/`memory`/`local` stores, nothing
running) after `poll * 2**quiet` seconds, at most `idle_poll`, where `quiet` is how many
of its asks in a row found nothing (the page counts them and starts again at 0 after any
change or callback of its own). So no store stays stale longer than `idle_poll` on any
server.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import scopes
from .._types import StoreSpec
from ..backends import StoreKey
from ..errors import StashError, TokenError
from ..live import Hub, Wait
from ..tokens import is_token_text
from .browser import _component_id, _list

if TYPE_CHECKING:
    from .integration import Located, Stash

log = logging.getLogger("dash_stash")

LIVE = "_dash-stash/live"
MAX_STORES = 200  # stores one page may watch (far more than a page shows)
MAX_QUIET = 16  # a page's count of empty asks in a row is read up to this


@dataclass(frozen=True)
class _Shown:
    """A store a page shows: its id as the page has it, its spec, and where it lives."""

    raw_id: Any
    spec: StoreSpec
    located: Located


class LiveRoute:
    """The live route of one app's stash, and the hub that tells it of changes."""

    interval = 0.1  # seconds: a burst of commits becomes one event per page per interval
    heartbeat = 15.0  # seconds between pings: how long a closed page's stream may linger
    hold = 60.0  # seconds a stream stays open before the page posts again
    poll = 1.0  # seconds between a hot page's asks where it holds no stream
    idle_poll = 8.0  # seconds: the longest an idle page waits between asks

    def __init__(self, stash: Stash, streams: int | None = None) -> None:
        self.stash = stash
        self.hub = Hub(stash.engine.backend)
        if streams is not None and (type(streams) is not int or streams < 0):
            raise StashError(
                f"dash_stash.init(live_streams={streams!r}): give a number of streams "
                "(0 or more) one server process may hold, or None to let the server decide"
            )
        self.streams = streams  # streams this process may hold (None: as the server says)
        self._held = 0
        self._lock = threading.Lock()

    def install(self) -> None:
        prefix = self.stash.app.config.routes_pathname_prefix or "/"
        self.stash.web.add_stream_route(prefix + LIVE, self.open)

    def open(self, body: dict, can_hold: bool) -> Iterator[str] | None:
        """The event stream for the stores `body` names that are this browser's."""
        entries = _list(body.get("stores"))
        if len(entries) > MAX_STORES:
            raise StashError(f"a page may watch at most {MAX_STORES} stores")
        shown: dict[StoreKey, _Shown] = {}
        for entry in entries:
            found = self._shown(entry)
            if found is not None:
                shown[found.located.key] = found
        if not shown:
            return None
        hot = body.get("hot") is True or any(s.spec.scope == "app" for s in shown.values())
        quiet = body.get("quiet")
        quiet = quiet if type(quiet) is int and quiet >= 0 else 0
        budget = self.budget() if can_hold else 0
        return self._events(shown, hot, min(quiet, MAX_QUIET), budget)

    def budget(self) -> int | None:
        """How many streams this process may hold at once (None: no limit)."""
        return self.streams if self.streams is not None else self.stash.web.stream_slots()

    def _take(self, budget: int | None) -> bool:
        with self._lock:
            if budget is not None and self._held >= budget:
                return False
            self._held += 1
            return True

    def _give(self) -> None:
        with self._lock:
            self._held -= 1

    def retry(self, held: bool, hot: bool, quiet: int) -> float:
        """Seconds until the page asks again after this answer ends."""
        if held:
            return 0.1  # at once: the page's tokens then catch it up
        if hot:
            return self.poll
        return min(self.poll * 2**quiet, self.idle_poll)

    def _shown(self, entry: Any) -> _Shown | None:
        """The store an entry names, if its token is this browser's (else None: a page
        never hears of a store it cannot read)."""
        if not isinstance(entry, dict) or not is_token_text(entry.get("token")):
            return None
        component_id, token = _component_id(entry.get("id")), entry["token"]
        spec = self.stash.stores.get(component_id) or self.stash.spec_from_token(
            component_id, token
        )
        if spec is None:
            return None
        try:  # checked quietly first: a foreign token here is not worth a warning per page
            signed = self.stash.signer.verify(token, self.stash.session_id())
        except TokenError:
            return None
        if (
            spec.scope == "app"
            and signed.instance != self.stash.shared_key(signed.store_id, spec).scope
        ):
            return None  # another group's (or no group now)
        located = self.stash.locate(component_id, token, spec)
        if located.token is None or located.key.scope == scopes.NO_GROUP:
            return None
        return _Shown(component_id, spec, located)

    def _events(
        self, shown: dict[StoreKey, _Shown], hot: bool, quiet: int, budget: int | None
    ) -> Iterator[str | Wait]:
        known = {key: s.located.token.version for key, s in shown.items() if s.located.token}
        watch = self.hub.open(known)
        # a slot is taken when the stream starts, just before the try, so that it is given
        # back however the stream ends (a stream never started takes none)
        held = (hot or budget is None) and self._take(budget)
        hold = self.hold if held else 0.0
        try:
            yield f"retry: {int(self.retry(held, hot, quiet) * 1000)}\n\n"
            deadline = time.monotonic() + hold
            pause = 0.0  # after an event: what else changes meanwhile joins the next one
            while True:
                left = deadline - time.monotonic()
                if left > 0:  # the server waits as it can: a thread blocks (WSGI), or a
                    # coroutine awaits on the loop, holding no thread (ASGI); the rest (checks,
                    # tokens) is short sync work between waits
                    yield Wait(self.hub, watch, min(self.heartbeat, left), pause)
                newer = self.hub.newer(watch)
                pause = 0.0
                if newer:
                    if not self._still_in_groups(shown):
                        return
                    stores = [self._fresh(shown[key], version) for key, version in newer.items()]
                    yield f"data: {json.dumps({'stores': stores})}\n\n"
                    self.hub.seen(watch, newer)
                    pause = self.interval
                if time.monotonic() >= deadline:
                    return
                if not newer:
                    yield ": ping\n\n"
        finally:
            self.hub.close(watch)
            if held:
                self._give()

    def _still_in_groups(self, shown: dict[StoreKey, _Shown]) -> bool:
        """Is the request still in the group of each group store it watches?"""
        for key, s in shown.items():
            if s.spec.group is not None and self.stash.shared_key(key.store_id, s.spec) != key:
                return False
        return True

    def _fresh(self, s: _Shown, version: int) -> dict:
        key = s.located.key
        token = self.stash.token(key.store_id, s.spec, key.scope, version, s.located.seed)
        return {"id": s.raw_id, "token": token}
