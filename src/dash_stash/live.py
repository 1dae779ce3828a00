"""Which open pages watch which stores, and when one of them changed (issue 13).

A page that shows stores holds one `Watch`: the backend keys of its stores and the version
of each it has. The `Hub` (one per app) keeps the latest version of every watched key, told
by the backend's change feed (`Backend.watch`: every commit and delete, by any writer, in
this process or, through SQLite's data version or Redis pub/sub, in any other), and wakes
the watches that fall behind. It holds no values and no tokens: the web side turns what
changed into fresh tokens for the page (`adapter`'s live route). Dash-free on purpose.

A stream waits for its watch's next change in one of two ways, both here (`Wait`): a thread
blocks on the hub's condition (WSGI servers: one thread per open page), or a coroutine awaits
it on an asyncio loop, woken through `loop.call_soon_threadsafe` by the feed's thread (ASGI
servers: no thread per open page).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .backends import Backend, StoreKey


@dataclass
class Watch:
    """One open page's stores: the version of each key it has."""

    known: dict[StoreKey, int] = field(default_factory=dict)


class Hub:
    """The watched keys of one backend, their latest versions, and the watches to wake."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._cond = threading.Condition()
        self._latest: dict[StoreKey, int | None] = {}  # None: not read yet
        self._count: Counter[StoreKey] = Counter()  # watches per key
        self._watches = 0
        self._feeding = False
        self._wakers: dict[int, tuple[Watch, Callable[[], None]]] = {}  # awaiting watches

    def open(self, known: dict[StoreKey, int]) -> Watch:
        """Start watching `known` (key -> version the page has); a key already behind shows
        in `newer` at once (a page that reconnects catches up)."""
        if not self._feeding:
            self._feeding = True
            self.backend.watch(self._on_change)
        with self._cond:
            self._watches += 1
            unread = [k for k in known if self._count[k] == 0]
            for key in known:
                self._count[key] += 1
                self._latest.setdefault(key, None)
        if unread:
            read = self.backend.versions(unread)
            with self._cond:
                for key, version in read.items():
                    if self._latest.get(key, 0) is None:  # no commit told us of it meanwhile
                        self._latest[key] = version
        return Watch(dict(known))

    def close(self, watch: Watch) -> None:
        """The page went away: forget its keys (a key no watch has is not tracked)."""
        with self._cond:
            self._watches -= 1
            for key in watch.known:
                self._count[key] -= 1
                if self._count[key] <= 0:
                    del self._count[key]
                    self._latest.pop(key, None)
        watch.known = {}

    def newer(self, watch: Watch) -> dict[StoreKey, int]:
        """The keys whose latest version is not the one the page has (0: deleted)."""
        with self._cond:
            return self._newer(watch)

    def _newer(self, watch: Watch) -> dict[StoreKey, int]:
        found = {}
        for key, version in watch.known.items():
            latest = self._latest.get(key)
            if latest is not None and latest != version:
                found[key] = latest
        return found

    def wait(self, watch: Watch, timeout: float) -> dict[StoreKey, int]:
        """Block until a key of `watch` changes (or `timeout` passes); what is newer."""
        with self._cond:
            self._cond.wait_for(lambda: self._newer(watch), timeout)
            return self._newer(watch)

    async def wait_async(self, watch: Watch, timeout: float) -> None:
        """Await, on the running asyncio loop, a change of a key of `watch` (or `timeout`):
        no thread waits; the feed's thread wakes the loop when the watch falls behind.
        Cancelling it (the client went away) leaves nothing behind in the hub."""
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()
        with self._cond:
            if self._newer(watch):
                return
            self._wakers[id(watch)] = (watch, lambda: loop.call_soon_threadsafe(woken.set))
        try:
            await asyncio.wait_for(woken.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._cond:
                self._wakers.pop(id(watch), None)

    def seen(self, watch: Watch, versions: dict[StoreKey, int]) -> None:
        """The page was sent these versions."""
        watch.known.update(versions)

    def watching(self) -> tuple[int, int]:
        """(open watches, keys watched): what open pages hold on this server."""
        with self._cond:
            return self._watches, len(self._count)

    def _on_change(self, changes: dict[StoreKey, int] | None) -> None:
        exact = changes is None  # versions read now are the truth; messages may cross
        if changes is None:  # the backend knows only that something changed: check
            with self._cond:
                keys = list(self._count)
            changes = self.backend.versions(keys) if keys else {}
        behind = []
        with self._cond:
            moved = False
            for key, version in changes.items():
                latest = self._latest.get(key)
                if key not in self._count or latest == version:
                    continue
                # two writers' messages may arrive in either order: keep the newer
                if exact or latest is None or version == 0 or latest == 0 or version > latest:
                    self._latest[key] = version
                    moved = True
            if moved:
                self._cond.notify_all()
                behind = [wake for watch, wake in self._wakers.values() if self._newer(watch)]
        for wake in behind:
            with contextlib.suppress(RuntimeError):  # its loop closed (the server stopping)
                wake()


@dataclass(frozen=True)
class Wait:
    """A step of a stream (see `adapter.stream`): wait `pause` seconds (one event per
    interval), then until a key of `watch` changes or `timeout` passes. The server that
    sends the stream does the waiting, as it can: `block` in a thread, `wait` on a loop."""

    hub: Hub
    watch: Watch
    timeout: float
    pause: float = 0.0

    def block(self) -> None:
        """Wait in this thread."""
        if self.pause > 0:
            time.sleep(self.pause)
        self.hub.wait(self.watch, self.timeout)

    async def wait(self) -> None:
        """Wait on the running asyncio loop, holding no thread."""
        if self.pause > 0:
            await asyncio.sleep(self.pause)
        await self.hub.wait_async(self.watch, self.timeout)
