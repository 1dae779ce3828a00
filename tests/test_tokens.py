"""The MACs behind tokens, session cookies and backend keys (`tokens.Signer`): each a copy of
one keyed HMAC, valid inputs remembered, and still exactly the HMAC-SHA256 that signed what
browsers and backends already hold, so an upgrade logs nobody out and orphans no stored value.
"""

from __future__ import annotations

import base64
import hmac
import threading

import orjson
import pytest

from dash_stash.errors import TokenError
from dash_stash.tokens import PREFIX, Signer, Token

SECRET, NAMESPACE = b"the app's secret", "app/"


def documented_mac(purpose: bytes, *parts: str) -> bytes:
    """HMAC-SHA256 of purpose, namespace and parts joined by NUL: how 0.1 signed."""
    message = b"\0".join((purpose, NAMESPACE.encode(), *(p.encode() for p in parts)))
    return hmac.digest(SECRET, message, "sha256")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_tokens_cookies_and_keys_made_before_still_verify_and_match():
    signer = Signer(SECRET, NAMESPACE)
    token = Token("table", "session", "tab-1", 4, "", 3600.0, "last-writer-wins")
    payload = b64(orjson.dumps(["table", "session", "tab-1", 4, "", 3600.0, "last-writer-wins"]))
    old_token = f"{PREFIX}{payload}.{b64(documented_mac(b'token', 'sess', payload)[:18])}"
    assert signer.verify(old_token, "sess") == token
    assert signer.sign(token, "sess") == old_token

    old_cookie = f"sess.{b64(documented_mac(b'cookie', 'sess')[:18])}"
    assert signer.session_from_cookie(old_cookie) == "sess"
    assert signer.session_from_cookie(old_cookie[:-1] + "A") is None  # an edited MAC
    assert signer.session_key("sess") == documented_mac(b"key", "sess").hex()[:32]


def test_macs_made_in_many_threads_at_once_are_each_right():
    """The keyed HMAC is shared by every request thread; copies of it never mix."""
    signer = Signer(SECRET, NAMESPACE)
    wrong: list[str] = []
    start = threading.Barrier(8)

    def sign_and_check(n: int) -> None:
        start.wait()
        for i in range(300):
            session = f"s{n}-{i}"
            token = Token("t", "memory", f"page-{n}", i)
            if signer.verify(signer.sign(token, session), session) != token:
                wrong.append(session)
            if signer.session_key(session) != documented_mac(b"key", session).hex()[:32]:
                wrong.append(session)

    threads = [threading.Thread(target=sign_and_check, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_a_remembered_token_or_cookie_is_still_checked_against_its_session_and_bytes():
    """`verify` remembers what it found valid, by exact input: never for another session,
    another byte, or without bound."""
    signer = Signer(SECRET, NAMESPACE)
    token = Token("table", "memory", "tab-1", 2)
    text = signer.sign(token, "alice")
    assert signer.verify(text, "alice") == token
    assert signer.verify(text, "alice") == token  # remembered
    with pytest.raises(TokenError, match="bad signature"):
        signer.verify(text, "mallory")  # alice's token replayed in another browser
    with pytest.raises(TokenError):
        signer.verify(text[:-1] + ("A" if text[-1] != "A" else "B"), "alice")
    cookie = signer.new_session()[1]
    session = cookie.partition(".")[0]
    assert signer.session_from_cookie(cookie) == session
    assert signer.session_from_cookie(cookie) == session  # remembered
    assert signer.session_from_cookie(f"{session}x.{cookie.partition('.')[2]}") is None
    for n in range(3000):  # many pages and browsers: what is remembered stays bounded
        signer.verify(signer.sign(Token("t", "memory", f"tab-{n}", 1), f"s{n}"), f"s{n}")
        signer.session_from_cookie(signer.new_session()[1])
    assert len(signer._verified) <= 1024 and len(signer._sessions) <= 1024
    assert signer.verify(text, "alice") == token
