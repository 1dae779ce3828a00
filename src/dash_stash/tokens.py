"""Tokens: what the browser holds instead of a store's value.

A token names a store and its scope instance and is HMAC-signed together with the app
namespace and the browser's session id. A token copied into another browser, edited or forged
fails `verify` and reads nothing.

The session ids themselves are the server's too: the cookie is `<id>.<mac>`, so a cookie the
server did not make (planted by an attacker: session fixation) is recognised and replaced, and
backend keys hold `session_key(id)`, a keyed hash, so a copy of the backend names no session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import TokenError

PREFIX = "ds1."
JOB_PREFIX = "dsj1."  # a store reference for a background job (`JobRef`), never a browser's


@dataclass(frozen=True)
class Token:
    """The signed content of a token."""

    store_id: str  # Dash's string form of the component id
    scope: str  # "memory" | "session" | "local"
    instance: str  # which page load / tab / browser the value belongs to
    version: int  # the version this token was minted for; reads still see the latest
    seed: str = ""  # content hash of the layout's initial data ("" when there is none)
    # The store's options, so a worker that never saw the Store component can serve it:
    ttl: float = 0.0
    policy: str = ""  # "last-writer-wins", "raise", or "function" (not carried)
    typed: bool = False  # values kept exactly, not as dcc.Store gives them back


def is_token_text(sent: object) -> bool:
    """Does `sent` look like a token (signed or not), as opposed to a raw value?"""
    return isinstance(sent, str) and sent.startswith(PREFIX)


@dataclass(frozen=True)
class JobRef:
    """A store's place and version, handed to a background job instead of its value.

    A job runs in another process, outside any request, so it cannot check a browser token
    (those are bound to the session id, which never leaves the web server). The web server
    checks the token and signs this instead: the session as backend keys name it (a keyed
    hash), the token's content, and whether the browser sent a valid token at all. The job
    commits its writes and hands the same kind of reference back (a receipt), which the web
    server turns into a browser token for the same session only."""

    namespace: str
    session: str  # the session key (`Signer.session_key`), never the session id
    token: Token
    bound: bool = True  # the browser sent a valid token (else: an unbound or fresh instance)


class Signer:
    """Signs and checks tokens for one app namespace with one secret."""

    def __init__(self, secret: bytes | str, namespace: str) -> None:
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._namespace = namespace.encode()
        # Keyed once; every MAC is a copy of it. The one-shot `hmac.digest` cost 15-75 us on
        # its first call in each thread (OpenSSL 3 looks the algorithm up per thread), and a
        # threaded server, with dash[async] too, runs each request in a new thread: 0.1 ms a
        # MAC, two to three MACs a callback request. A copy costs 2-4 us there.
        self._keyed = hmac.new(self._secret, digestmod=hashlib.sha256)
        # What `verify` and `session_from_cookie` found valid, by their exact input (the same
        # input always gives the same answer): a page sends the same token and cookie on
        # every callback, and checking them again cost 0.06-0.1 ms each in a request's fresh
        # thread. Only successes are kept; emptied when full (plain dict operations, safe in
        # threads and after a fork without a lock).
        self._verified: dict[tuple[str, str], Token] = {}
        self._sessions: dict[str, str] = {}

    def sign(self, token: Token, session: str) -> str:
        payload = _b64(orjson.dumps(_fields(token)))
        return f"{PREFIX}{payload}.{self._mac(payload, session)}"

    def verify(self, text: object, session: str) -> Token:
        """The token `text` stands for; `TokenError` if it is not one this app gave `session`."""
        if isinstance(text, str):
            known = self._verified.get((text, session))
            if known is not None:
                return known
        token = self._verify(text, session)
        _remember(self._verified, (text, session), token)
        return token

    def _verify(self, text: object, session: str) -> Token:
        if not isinstance(text, str) or not text.startswith(PREFIX):
            raise TokenError("not a dash-stash token")
        payload, _, mac = text[len(PREFIX) :].partition(".")
        if not mac.isascii() or not hmac.compare_digest(mac, self._mac(payload, session)):
            raise TokenError("bad signature: forged, edited, or minted for another browser")
        try:
            return _token_of(orjson.loads(_unb64(payload)))
        except (ValueError, TypeError) as exc:
            raise TokenError(f"malformed token payload: {exc}") from None

    def sign_job(self, ref: JobRef) -> str:
        """`ref` as plain text a job can carry through any broker, signed."""
        fields = [ref.namespace, ref.session, int(ref.bound), *_fields(ref.token)]
        payload = _b64(orjson.dumps(fields))
        return f"{JOB_PREFIX}{payload}.{self._job_mac(payload)}"

    def verify_job(self, text: object) -> JobRef:
        """The reference `text` stands for; `TokenError` if this app's secret did not sign it."""
        payload = job_payload(text)
        mac = str(text).rpartition(".")[2]
        if not hmac.compare_digest(mac, self._job_mac(payload)):
            raise TokenError("bad signature: not signed with this app's secret")
        try:
            namespace, session, bound, *token = orjson.loads(_unb64(payload))
            return JobRef(str(namespace), str(session), _token_of(token), bool(bound))
        except (ValueError, TypeError) as exc:
            raise TokenError(f"malformed job reference: {exc}") from None

    def _job_mac(self, payload: str) -> str:
        return _b64(self._digest(b"job", payload.encode())[:18])

    def _mac(self, payload: str, session: str) -> str:
        return _b64(self._digest(b"token", session.encode(), payload.encode())[:18])

    # -- session ids ----------------------------------------------------------------------

    def new_session(self) -> tuple[str, str]:
        """A fresh session: (its id, the cookie value that carries it, signed)."""
        session = secrets.token_urlsafe(16)
        return session, f"{session}.{self._session_mac(session)}"

    def session_from_cookie(self, cookie: str) -> str | None:
        """The session id a cookie carries, if this server made it; else None."""
        known = self._sessions.get(cookie)
        if known is not None:
            return known
        session, _, mac = cookie.partition(".")
        if not (session and mac.isascii() and session.isascii()):
            return None
        if not hmac.compare_digest(mac, self._session_mac(session)):
            return None
        _remember(self._sessions, cookie, session)
        return session

    def session_key(self, session: str) -> str:
        """What backend keys hold for a session: a keyed hash, useless as a cookie."""
        return self._digest(b"key", session.encode()).hex()[:32]

    def group_key(self, group: str) -> str:
        """What backend keys hold for a group of `app` values: a keyed hash of its name."""
        return self._digest(b"group", group.encode()).hex()[:32]

    def _session_mac(self, session: str) -> str:
        return _b64(self._digest(b"cookie", session.encode())[:18])

    def _digest(self, purpose: bytes, *parts: bytes) -> bytes:
        """HMAC-SHA256 over the app namespace and `parts`, one key use per `purpose`."""
        mac = self._keyed.copy()  # thread-safe: copying never changes the keyed original
        mac.update(b"\0".join((purpose, self._namespace, *parts)))
        return mac.digest()


_REMEMBERED = 1024  # inputs a Signer remembers as valid, per kind (tokens, cookies)


def _remember(known: dict, key: Any, value: Any) -> None:
    if len(known) >= _REMEMBERED:
        known.clear()
    known[key] = value


def _fields(token: Token) -> list:
    """A token's content as its payload holds it (`typed` only when set)."""
    t = token
    return [t.store_id, t.scope, t.instance, t.version, t.seed, t.ttl, t.policy] + (
        [1] if t.typed else []
    )


def _token_of(fields: list) -> Token:
    """The token a payload's fields hold (the inverse of `_fields`)."""
    store_id, scope, instance, version, seed, ttl, policy = fields[:7]
    typed = fields[7:8] == [1]
    return Token(
        str(store_id),
        str(scope),
        str(instance),
        int(version),
        str(seed),
        float(ttl),
        str(policy),
        typed,
    )


def is_job_ref(text: object) -> bool:
    return isinstance(text, str) and text.startswith(JOB_PREFIX)


def job_payload(text: object) -> str:
    """The payload part of a job reference, unchecked; `TokenError` if it is none."""
    if not is_job_ref(text):
        raise TokenError("not a dash-stash job reference")
    payload, _, mac = text[len(JOB_PREFIX) :].partition(".")  # type: ignore[index]
    if not mac.isascii():
        raise TokenError("malformed job reference")
    return payload


def job_namespace(text: str) -> str:
    """The app namespace a job reference names, before its signature is checked (to find
    the app, whose secret checks it); "" if it names none."""
    try:
        return str(orjson.loads(_unb64(job_payload(text)))[0])
    except (TokenError, ValueError, TypeError, IndexError):
        return ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
