"""`redis://`, `rediss://`, `redis+cluster://`: stores shared by app hosts on several machines.

A commit is optimistic: read the record and its etag, run `update` in Python, then one Lua
script makes the new version current only if the etag is still the one we read (else we read
again and retry). The script is the only step that changes what readers see, so a commit is
whole or absent, never half-written, and no lock can expire under a slow writer.

Values never pass through Lua (a 180 KB value costs Redis ~0.5 ms per crossing, an 8 MB table
would stall it): the new value goes into a staging list with a plain RPUSH in the same
MULTI as the script, and the script LMOVEs it onto the head of the store's value list.

Keys (parts percent-encoded, so `{`, `}`, `|`, `:` and glob characters never occur in one):

    ds:{<namespace>|<session>}:rec:<scope>:<store_id>   hash: version, codec, etag, ... (small)
    ds:{<namespace>|<session>}:vals:<scope>:<store_id>  list: the latest value, then old ones
    ds:{<namespace>|<session>}:hist:<scope>:<store_id>  hash: old versions' codec, times, writer
    ds:{<namespace>|<session>}:hord:<scope>:<store_id>  list: "<version>:<size>", newest first
    ds:{<namespace>|<session>}:stage:<scope>:<store_id>:<etag>  list: a commit's new value
    ds:{<namespace>|<session>}:idx                      set: "<scope>:<store_id>" of the session

The `{...}` hash tag puts everything of one session in one Redis Cluster slot, so every
MULTI and script touches a single slot. Expiry is Redis's own: a store's keys share one
deadline (PEXPIREAT), and the session index lives as long as its longest-lived member.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import orjson
import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import RedisCluster
from redis.exceptions import (
    ClusterDownError,
    NoScriptError,
    OutOfMemoryError,
    RedisClusterException,
    RedisError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from ..codec import Encoded
from ..errors import BackendError
from .base import (
    Backend,
    Check,
    Head,
    Record,
    Retention,
    StoreKey,
    Update,
    history_kept,
    is_ready,
    new_value,
)

log = logging.getLogger("dash_stash")

T = TypeVar("T")
PREFIX = "ds"
STRIPES = 64  # in-process commit mutexes, picked by the key's hash
RECENT_TAGS = 8  # etags of the last commits kept on the record, to recognise a re-sent script
CHANGES = f"{PREFIX}:changes"  # pub/sub channel: one message per commit or delete
STAGE_MS = 60_000  # a staged value left behind by a failed MULTI expires after this

# Shared by the scripts: one deadline for all of a store's keys (so they expire together),
# and an index that lives as long as its longest-lived member.
_LIB = """
local function expire_store(ms)
  local now = redis.call('TIME')
  local at = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + ms
  for i = 1, 4 do redis.call('PEXPIREAT', KEYS[i], at) end
  local left = redis.call('PTTL', KEYS[5])
  if left == -1 or (left >= 0 and left < ms) then redis.call('PEXPIRE', KEYS[5], ms) end
end
"""

# KEYS: rec, vals, hist, hord, idx.  ARGV: ttl_ms.  Returns 1 if the store exists.
_TOUCH = (
    _LIB
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
expire_store(tonumber(ARGV[1]))
return 1
"""
)

# KEYS: rec, vals, hist, hord, idx, stage, guard.
# ARGV: expected etag ('' = absent), new etag, codec, now, writer, ttl_ms, kept, member, size,
# kind, details, expected guard ('' = no check).
# Returns the new version, or 0 if another writer committed since our read (or, with a
# guard, another checked commit of the session: its usage was read before that one). A script
# re-sent by redis-py after a broken connection finds its etag among the recent ones and
# returns that version instead of committing twice.
_COMMIT = (
    _LIB
    + """
local cur = redis.call('HGET', KEYS[1], 'etag') or ''
if cur ~= ARGV[1] then
  redis.call('DEL', KEYS[6])
  local tags = redis.call('HGET', KEYS[1], 'tags')
  if tags then
    local v = string.match(' ' .. tags, ' ' .. ARGV[2] .. ':(%d+)')
    if v then return tonumber(v) end
  end
  return 0
end
if redis.call('LLEN', KEYS[6]) ~= 1 then
  return redis.error_reply('dash-stash: the staged value is missing')
end
if ARGV[12] ~= '' then
  if (redis.call('GET', KEYS[7]) or '0') ~= ARGV[12] then
    redis.call('DEL', KEYS[6])
    return 0
  end
  redis.call('INCR', KEYS[7])
  local left = redis.call('PTTL', KEYS[7])
  local ms = tonumber(ARGV[6])
  if left == -1 or (left >= 0 and left < ms) then redis.call('PEXPIRE', KEYS[7], ms) end
end
local version, created, tags = 1, ARGV[4], ''
local kept = tonumber(ARGV[7])
if cur == '' then
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
else
  local old = redis.call('HMGET', KEYS[1], 'version', 'codec', 'created', 'updated', 'writer',
                         'size', 'tags', 'kind', 'details')
  local v = old[1]
  version, created = tonumber(v) + 1, old[3]
  redis.call('HSET', KEYS[3], v .. ':codec', old[2], v .. ':created', old[3],
             v .. ':updated', old[4], v .. ':writer', old[5], v .. ':kind', old[8] or '',
             v .. ':details', old[9] or '')
  redis.call('LPUSH', KEYS[4], v .. ':' .. old[6])
  for _, entry in ipairs(redis.call('LRANGE', KEYS[4], kept, -1)) do
    local d = string.match(entry, '^(%d+):')
    redis.call('HDEL', KEYS[3], d .. ':codec', d .. ':created', d .. ':updated', d .. ':writer',
               d .. ':kind', d .. ':details')
  end
  if kept > 0 then redis.call('LTRIM', KEYS[4], 0, kept - 1) else redis.call('DEL', KEYS[4]) end
  local n = 1
  for entry in string.gmatch(old[7], '%S+') do
    if n >= """
    + str(RECENT_TAGS)
    + """ then break end
    tags, n = tags .. ' ' .. entry, n + 1
  end
end
redis.call('LMOVE', KEYS[6], KEYS[2], 'LEFT', 'LEFT')
redis.call('LTRIM', KEYS[2], 0, kept)
redis.call('HSET', KEYS[1], 'codec', ARGV[3], 'version', version, 'created', created,
           'updated', ARGV[4], 'writer', ARGV[5], 'size', ARGV[9], 'etag', ARGV[2],
           'tags', ARGV[2] .. ':' .. version .. tags, 'kind', ARGV[10], 'details', ARGV[11])
expire_store(tonumber(ARGV[6]))
redis.call('SADD', KEYS[5], ARGV[8])
return version
"""
)

# KEYS: rec, vals, hist, hord, idx.  ARGV: member.  Returns 1 if the record existed.
_DELETE = """
local gone = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('SREM', KEYS[5], ARGV[1])
return gone
"""

# KEYS: idx, rec_1..rec_n.  ARGV: member_1..member_n.  Drops members whose record is gone;
# check and removal are one step, so a record created meanwhile keeps its entry.
_PRUNE = """
local removed = 0
for i, member in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then
    removed = removed + redis.call('SREM', KEYS[1], member)
  end
end
return removed
"""

_FIELDS = ("codec", "version", "created", "updated", "writer", "etag", "size", "kind", "details")


def _part(text: str) -> str:
    """Percent-encode a key part: no separator, brace or glob character survives."""
    return quote(text, safe="")


def _ms(ttl: float) -> int:
    return max(1, round(ttl * 1000))


def _text(b: bytes | str | None) -> str:
    if b is None:
        return ""
    return b if isinstance(b, str) else b.decode()


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***" if parts.username else ":***"
    netloc = f"{user}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _Keys:
    """The Redis key names of one store, all under its session's hash tag."""

    def __init__(self, key: StoreKey) -> None:
        self.base = f"{PREFIX}:{{{_part(key.namespace)}|{_part(key.session)}}}:"
        self.member = f"{_part(key.scope)}:{_part(key.store_id)}"
        self.rec = f"{self.base}rec:{self.member}"
        self.vals = f"{self.base}vals:{self.member}"
        self.hist = f"{self.base}hist:{self.member}"
        self.hord = f"{self.base}hord:{self.member}"
        self.idx = f"{self.base}idx"
        self.guard = f"{self.base}guard"  # counts the session's checked commits (`Check`)
        self.store = [self.rec, self.vals, self.hist, self.hord, self.idx]

    def stage(self, etag: str) -> str:
        return f"{self.base}stage:{self.member}:{etag}"


class RedisBackend(Backend):
    """Redis or Redis Cluster through redis-py; safe for any number of processes and hosts."""

    def __init__(
        self,
        url: str,
        retention: Retention | None = None,
        *,
        max_attempts: int = 200,
        max_seconds: float = 10.0,
        eager_retries: int = 2,
        backoff_base: float = 0.0005,
        backoff_cap: float = 0.025,
    ) -> None:
        self.url = url
        self.safe_url = safe_url(url)
        self.retention = retention or Retention()
        self.max_attempts = max_attempts
        self.max_seconds = max_seconds
        self.eager_retries = eager_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.cluster = False
        self._sweep_cursors: dict[str, int] = {}
        self._pid = os.getpid()
        self._stripes = [threading.RLock() for _ in range(STRIPES)]
        try:
            self._client = self._connect(url)
            self._client.ping()
        except (RedisError, RedisClusterException, OSError) as exc:
            raise BackendError(
                f"cannot reach Redis at {self.safe_url} ({type(exc).__name__}: {exc}); "
                "check that redis-server is running and that the URL (host, port, password, "
                "database) is right, or set DASH_STASH_BACKEND to another URL"
            ) from exc
        register = self._client.register_script
        self._touch, self._commit = register(_TOUCH), register(_COMMIT)
        self._delete, self._prune = register(_DELETE), register(_PRUNE)
        self._check_server()

    def _connect(self, url: str) -> redis.Redis | RedisCluster:
        """Build the client; our own option (`cluster`) is taken out of the query first."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        query = dict(parse_qsl(parts.query))
        self.cluster = scheme == "redis+cluster" or query.pop("cluster", "").lower() in (
            "1",
            "true",
            "yes",
        )
        scheme = "redis" if scheme == "redis+cluster" else scheme
        query.setdefault("socket_connect_timeout", "5")
        query.setdefault("socket_timeout", "10")
        # A few quick reconnects ride out a blip or a failover; a re-sent commit is safe
        # because the script recognises its own etag.
        retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3)
        if self.cluster:  # one database only; redis-py refuses a `db`, even 0
            plain = urlunsplit((scheme, parts.netloc, "", urlencode(query), ""))
            return RedisCluster.from_url(plain, retry=retry)
        plain = urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), ""))
        return redis.Redis.from_url(plain, retry=retry)

    def _check_server(self) -> None:
        """Refuse a Redis too old for the scripts; warn unless it refuses writes when full,
        since eviction would drop live stores. Skipped where INFO or CONFIG is disabled."""
        for name, node in self._nodes():
            where = f"{self.safe_url}" + (f" (node {name})" if name else "")
            with contextlib.suppress(RedisError, RedisClusterException):
                version = _text(node.info("server").get("redis_version", "")) or "0"
                if tuple(int(p) for p in version.split(".")[:2]) < (6, 2):
                    raise BackendError(
                        f"Redis at {where} is version {version}; dash-stash needs Redis 6.2 or "
                        "newer (its commit script uses LMOVE)"
                    )
            try:
                reply = node.config_get("maxmemory-policy")
            except (RedisError, RedisClusterException):  # CONFIG may be disabled or renamed
                continue
            policy = _text(next(iter(reply.values()), b""))
            if policy and policy != "noeviction":
                log.warning(
                    "dash-stash: Redis at %s has maxmemory-policy %s: when it fills up it "
                    "evicts stores that are still in use, and callbacks then see them empty. "
                    "Set `maxmemory-policy noeviction` (writes then fail loudly instead); see "
                    "docs/redis.md",
                    where,
                    policy,
                )

    def _call(self, what: str, action: Callable[[], T], *, committing: bool = False) -> T:
        """Run one Redis step; any Redis failure becomes a BackendError naming the URL."""
        try:
            return action()
        except OutOfMemoryError as exc:
            raise BackendError(
                f"Redis at {self.safe_url} is full (maxmemory reached) and refused {what}; the "
                "stored value is unchanged. Give Redis more memory, or keep less: shorter "
                "store lifetimes, fewer old versions (Retention)."
            ) from exc
        except (
            RedisConnectionError,
            RedisTimeoutError,
            ClusterDownError,
            RedisClusterException,
            OSError,
        ) as exc:
            if committing:  # the reply was lost: the script may or may not have run
                outcome = (
                    "the commit was not confirmed: it was applied whole or not at all, "
                    "never half-written; read the store to see which"
                )
            else:
                outcome = "the stored value is unchanged"
            raise BackendError(
                f"cannot reach Redis at {self.safe_url} during {what} "
                f"({type(exc).__name__}: {exc}); {outcome}. Check that Redis is up and "
                "reachable; the next call reconnects by itself."
            ) from exc
        except RedisError as exc:
            raise BackendError(
                f"Redis at {self.safe_url} refused {what} ({type(exc).__name__}: {exc}); the "
                "stored value is unchanged."
            ) from exc

    def _multi(self, build: Callable[[Any], object]) -> list:
        """Run the commands `build` queues as one MULTI/EXEC, loading scripts if Redis lost
        them (a restart empties its script cache)."""
        for reload in (False, True):
            pipe = self._client.pipeline(transaction=True)
            build(pipe)
            try:
                return pipe.execute()
            except NoScriptError:
                if reload:
                    raise
                for script in (self._touch, self._commit):
                    self._client.script_load(script.script)
        raise AssertionError("unreachable")

    def _snapshot(
        self, names: _Keys, ttl: float | None, *, value: bool = True
    ) -> tuple[list, bytes | None, int, list[bytes]]:
        """One atomic read: record fields, latest value (unless not wanted), ms to expiry,
        history entries."""

        def build(pipe: Any) -> None:
            if ttl is not None:
                pipe.execute_command("EVALSHA", self._touch.sha, 5, *names.store, _ms(ttl))
            pipe.hmget(names.rec, *_FIELDS)
            if value:
                pipe.lindex(names.vals, 0)
            pipe.pttl(names.rec)
            pipe.lrange(names.hord, 0, -1)

        reply = self._call("a read", lambda: self._multi(build))
        return reply[-4 if value else -3], reply[-3] if value else None, reply[-2], reply[-1]

    def read(self, key: StoreKey, ttl: float | None = None) -> Record | None:
        fields, value, pttl, _ = self._snapshot(_Keys(key), ttl)
        return _record(key, fields, value, pttl)

    def head(self, key: StoreKey) -> Head | None:
        fields, _, pttl, _ = self._snapshot(_Keys(key), None, value=False)
        codec, version, _, updated, writer, etag, size, kind, _ = fields
        if etag is None:
            return None
        expires = time.time() + pttl / 1000 if pttl >= 0 else float("inf")
        return Head(
            key,
            int(version),
            int(size),
            _text(codec),
            _text(writer),
            _text(kind),
            float(updated),
            expires,
        )

    def commit(
        self,
        key: StoreKey,
        update: Update,
        *,
        ttl: float,
        writer: str = "",
        check: Check | None = None,
    ) -> Record:
        record = self._commit_locked(key, update, ttl, writer, check)
        self._publish(key, record.version)  # after the stripe lock: other writers go on
        return record

    def _commit_locked(
        self, key: StoreKey, update: Update, ttl: float, writer: str, check: Check | None
    ) -> Record:
        names = _Keys(key)
        blind = is_ready(update)  # a plain value: no need to fetch the latest one
        with self._lock_for(key):
            # The budget counts this commit's own attempts against other processes, not the
            # wait above for this process's other threads (each of those is bounded too).
            start = time.monotonic()
            for attempt in range(self.max_attempts):
                fields, data, pttl, order = self._snapshot(names, None, value=not blind)
                exists = fields[5] is not None
                latest = None if blind else _record(key, fields, data, pttl)
                change = new_value(update, latest)  # may raise: nothing has been written
                value = change.value.laid_out()  # a `Streamed` value's bytes, a snapshot
                guard = ""
                if check is not None:  # the session's usage, read after its guard: the
                    # script commits only if no other checked commit of it came in between
                    guard = _text(
                        self._call("a quota check", lambda: self._client.get(names.guard))
                    )
                    check(self.usage(key), value)
                    guard = guard or "0"
                now = time.time()
                sizes = [int(fields[6]), *(int(e.split(b":")[1]) for e in order)] if exists else []
                etag = secrets.token_hex(8)
                stage = names.stage(etag)
                args = [
                    _text(fields[5]),
                    etag,
                    value.codec,
                    repr(now),
                    writer,
                    _ms(ttl),
                    history_kept(sizes, self.retention),
                    names.member,
                    value.size,
                    change.kind,
                    change.details,
                    guard,
                ]

                def build(
                    pipe: Any, stage: str = stage, args: list = args, data: bytes = value.data
                ) -> None:
                    pipe.delete(stage)
                    pipe.rpush(stage, data)
                    pipe.pexpire(stage, STAGE_MS)
                    pipe.execute_command(
                        "EVALSHA", self._commit.sha, 7, *names.store, stage, names.guard, *args
                    )

                version = self._call(
                    "a commit", lambda b=build: self._multi(b)[-1], committing=True
                )
                if version:
                    created = float(fields[2]) if exists else now
                    return Record(
                        key,
                        value,
                        int(version),
                        created,
                        now,
                        now + ttl,
                        writer,
                        change.kind,
                        change.details,
                    )
                if time.monotonic() - start > self.max_seconds:
                    break
                # Retry at once on a fresh read a few times (a fresh read is as good as any
                # rival's); then wait a growing, jittered pause so a crowd spreads out.
                if attempt >= self.eager_retries:
                    pause = self.backoff_base * 2 ** (attempt - self.eager_retries)
                    time.sleep(random.uniform(0, min(self.backoff_cap, pause)))
        raise BackendError(
            f"the store {key} on Redis at {self.safe_url} is too contended: {attempt + 1} "
            f"commit attempts in {time.monotonic() - start:.1f} s all lost to other writers; "
            "the stored value is unchanged by this one. Split the store, or write it less often."
        )

    def _lock_for(self, key: StoreKey) -> threading.RLock:
        """This process's mutex for the key's stripe: threads of one process take turns
        instead of failing each other's optimistic commits. It is never shared between
        processes and never expires; the commit script alone makes commits atomic."""
        if self._pid != os.getpid():  # a forked child must not inherit a held lock
            self._stripes = [threading.RLock() for _ in range(STRIPES)]
            self._pid = os.getpid()
        return self._stripes[hash(key) % STRIPES]

    def delete(self, key: StoreKey) -> bool:
        names = _Keys(key)
        existed = bool(
            self._call("a delete", lambda: self._delete(keys=names.store, args=[names.member]))
        )
        if existed:
            self._publish(key, 0)
        return existed

    # -- change notification: pub/sub, so every process on every host hears every commit --

    def _publish(self, key: StoreKey, version: int) -> None:
        """Tell every process (this one included, through its feed) of a commit or delete.
        The commit is done whatever happens here: a lost message is caught up when the
        feed reconnects (it then asks for the versions of everything watched)."""
        message = orjson.dumps([key.namespace, key.session, key.scope, key.store_id, version])
        try:
            self._client.publish(CHANGES, message)
        except (RedisError, RedisClusterException, OSError) as exc:
            log.warning(
                "dash-stash: committed %s, but could not tell open pages (%s: %s); they "
                "catch up when their feed reconnects",
                key,
                type(exc).__name__,
                exc,
            )

    def start_feed(self) -> None:
        """A thread subscribed to the `CHANGES` channel; after each (re)connect it tells
        the watchers to check everything (commits may have passed while it was away)."""

        def listen() -> None:
            while True:
                try:
                    pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(CHANGES)
                    self.changed(None)
                    for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            ns, session, scope, store_id, version = orjson.loads(message["data"])
                            changes = {StoreKey(ns, session, scope, store_id): int(version)}
                        except (ValueError, TypeError):
                            continue  # not one of ours
                        self.changed(changes)
                except Exception as exc:  # noqa: BLE001 - the feed thread must never die
                    log.warning(
                        "dash-stash: lost the change feed of Redis at %s (%s); reconnecting",
                        self.safe_url,
                        exc,
                    )
                    time.sleep(1.0)

        threading.Thread(target=listen, name="dash-stash-redis-feed", daemon=True).start()

    def touch(self, key: StoreKey, ttl: float) -> bool:
        names = _Keys(key)
        return bool(self._call("a touch", lambda: self._touch(keys=names.store, args=[_ms(ttl)])))

    def keys(self, namespace: str, session: str | None = None) -> list[StoreKey]:
        if session is not None:
            sessions = [session]
        else:
            pattern = f"{PREFIX}:{{{_part(namespace)}|*}}:idx"
            found = self._call("listing keys", lambda: list(self._scan(pattern)))
            sessions = [unquote(_text(k).split("|", 1)[1].rsplit("}", 1)[0]) for k in found]
        live: list[StoreKey] = []
        for s in sessions:
            idx = _Keys(StoreKey(namespace, s, "", "")).idx
            members = self._call("listing keys", lambda i=idx: self._client.smembers(i))
            candidates = [
                StoreKey(namespace, s, *map(unquote, _text(m).split(":"))) for m in members
            ]
            alive = self._call("listing keys", lambda c=candidates: self._exist(c))
            live += [k for k, ok in zip(candidates, alive, strict=True) if ok]
        return sorted(live)

    def namespaces(self) -> list[str]:
        found = self._call("listing namespaces", lambda: list(self._scan(f"{PREFIX}:{{*|*}}:idx")))
        return sorted({unquote(_text(k).split("{", 1)[1].split("|", 1)[0]) for k in found})

    def sizes(self, namespace: str, session: str) -> dict[StoreKey, tuple[int, int]]:
        keys = self.keys(namespace, session)

        def fetch() -> list:
            pipe = self._client.pipeline(transaction=False)
            for k in keys:
                pipe.hget(_Keys(k).rec, "size")
                pipe.lrange(_Keys(k).hord, 0, -1)  # "<version>:<size>" of each older version
            return pipe.execute()

        found = self._call("measuring a session", fetch) if keys else []
        sizes, orders = found[0::2], found[1::2]
        return {
            k: (int(size), sum(int(e.split(b":")[1]) for e in order))
            for k, size, order in zip(keys, sizes, orders, strict=True)
            if size is not None
        }

    def _exist(self, keys: list[StoreKey]) -> list[bool]:
        pipe = self._client.pipeline(transaction=False)
        for k in keys:
            pipe.exists(_Keys(k).rec)
        return [bool(n) for n in pipe.execute()]

    def history(self, key: StoreKey) -> list[Record]:
        names = _Keys(key)

        def build(pipe: Any) -> None:
            pipe.lrange(names.vals, 1, -1)
            pipe.lrange(names.hord, 0, -1)
            pipe.hgetall(names.hist)
            pipe.pttl(names.vals)

        values, order, meta, pttl = self._call("reading history", lambda: self._multi(build))
        expires = time.time() + pttl / 1000 if pttl >= 0 else 0.0
        records = []
        for data, entry in zip(values, order, strict=False):
            v = entry.split(b":")[0]
            if v + b":codec" not in meta:
                continue
            records.append(
                Record(
                    key,
                    Encoded(_text(meta[v + b":codec"]), bytes(data)),
                    int(v),
                    float(meta[v + b":created"]),
                    float(meta[v + b":updated"]),
                    expires,
                    _text(meta[v + b":writer"]),
                    _text(meta.get(v + b":kind")),
                    _text(meta.get(v + b":details")),
                )
            )
        return records

    def sweep(self, now: float | None = None, *, budget: int = 20) -> int:
        """Drop index entries whose store Redis has expired; return how many.

        Redis expires the stores itself (so `now` is not used: Redis's clock decides), and an
        index expires with its last member, so this only tidies. Each call reads at most
        `budget` SCAN pages per node and resumes where the last call stopped, so it stays
        cheap however large the database is.
        """
        pattern = f"{PREFIX}:{{*}}:idx"
        removed = 0
        for name, node in self._call("a sweep", self._nodes):
            cursor = self._sweep_cursors.get(name, 0)
            for _ in range(budget):
                cursor, found = self._call(
                    "a sweep", lambda n=node, c=cursor: n.scan(c, match=pattern, count=500)
                )
                for idx in found:
                    removed += self._prune_index(_text(idx))
                if cursor == 0:
                    break
            self._sweep_cursors[name] = int(cursor)
        return removed

    def _prune_index(self, idx: str) -> int:
        base = idx[: -len("idx")]
        members = [_text(m) for m in self._call("a sweep", lambda: self._client.smembers(idx))]
        removed = 0
        for i in range(0, len(members), 200):
            chunk = members[i : i + 200]
            recs = [f"{base}rec:{m}" for m in chunk]
            removed += int(
                self._call("a sweep", lambda r=recs, c=chunk: self._prune(keys=[idx, *r], args=c))
            )
        return removed

    def _nodes(self) -> list[tuple[str, Any]]:
        """(name, plain client) of every node holding keys: the one server, or each primary."""
        if not self.cluster:
            return [("", self._client)]
        return [
            (n.name, self._client.get_redis_connection(n)) for n in self._client.get_primaries()
        ]

    def _scan(self, pattern: str) -> Iterator[bytes]:
        for _, node in self._nodes():
            yield from node.scan_iter(match=pattern, count=500)

    def close(self) -> None:
        with contextlib.suppress(RedisError, RedisClusterException, OSError):
            self._client.close()


def _record(key: StoreKey, fields: list, value: bytes | None, pttl: int) -> Record | None:
    """A Record from the fields of `rec` and the head of `vals` (None if the store is absent)."""
    codec, version, created, updated, writer, etag, _, kind, details = fields
    if etag is None or value is None:
        return None
    expires = time.time() + pttl / 1000 if pttl >= 0 else float("inf")
    return Record(
        key,
        Encoded(_text(codec), bytes(value)),
        int(version),
        float(created),
        float(updated),
        expires,
        _text(writer),
        _text(kind),
        _text(details),
    )
