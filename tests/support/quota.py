"""Writes that fill a session's quota: big ones, then a small one; many at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.support.dash_client import DashClient

KB = 1000


def write(c: DashClient, store: str, token, value, prop: str = "data") -> requests.Response:
    body = {"id": store, "prop": prop, "token": token, "value": value}
    return c.http.post(c.url + "/_dash-stash/write", json=body)


def big_then_small(c: DashClient, times: int, size: int = 200 * KB) -> list[int]:
    """The history attack: in a fresh instance per request (a write without a token), a big
    value, then a small one that pushes the big one into history. The big writes' statuses."""
    codes = []
    for _ in range(times):
        big = write(c, "s", None, "x" * size)
        codes.append(big.status_code)
        if big.ok:
            assert write(c, "s", big.json()["value"], "y").ok
    return codes


def burst(c: DashClient, times: int, size: int) -> list[int]:
    """The race attack: `times` writes of `size` bytes at once, each in a fresh instance (a
    write without a token), all released together. Their statuses, sorted."""
    start = threading.Barrier(times)

    def one(_: int) -> int:
        start.wait()
        return write(c, "s", None, "x" * size).status_code

    with ThreadPoolExecutor(times) as pool:
        return sorted(pool.map(one, range(times)))
