"""Websocket callbacks (Dash 4.2+, FastAPI under uvicorn and Quart under hypercorn) in a real
browser: they read and write stores as HTTP callbacks do, and `set_props` on a store streams
its token over the socket while the callback still runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import needs_asgi

pytestmark = [pytest.mark.browser, pytest.mark.integration, needs_asgi]

TARGET = "servers_app:create_server"


def open_app(browser, url):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(url)
    expect(page.locator("#progress-show")).to_have_text("-")
    return context, page


def check_streamed_set_props(page, n: int, before: str) -> None:
    """Click run: its first step shows while the callback waits for the gate (so it came
    over the socket: over HTTP, set_props come with the callback's answer, and the callback
    has no socket to wait on); then it reads the store back from the page."""
    page.click("#run")
    expect(page.locator("#progress-show")).to_have_text(f"{before}{n}.0".strip())
    expect(page.locator("#run-done")).to_have_text("" if n == 1 else f"done {n - 1}")
    page.fill("#gate", f"go{n}")
    expect(page.locator("#run-done")).to_have_text(f"done {n}")
    expect(page.locator("#progress-show")).to_have_text(f"{before}{n}.0 {n}.1".strip())


@pytest.mark.parametrize(
    "server, every_callback",
    [("fastapi", True), ("quart", True), ("fastapi", False)],
    ids=["fastapi-all-over-websocket", "quart-all-over-websocket", "fastapi-websocket=True"],
)
def test_websocket_callbacks_read_and_write_stores(
    browser, dash_server, tmp_path, server, every_callback
):
    env = {"DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db", "SEED_DELAY": "0.1"}
    if every_callback:
        env["DASH_WS"] = "1"  # Dash(websocket_callbacks=True): the seed writers too
    s = dash_server(server, TARGET, env=env)
    context, page = open_app(browser, s.url)

    check_streamed_set_props(page, 1, "")
    check_streamed_set_props(page, 2, "1.0 1.1 ")
    if every_callback:  # a sync and an async writer of one store, both kept on every click
        for n in (1, 2, 3):
            page.click("#load_data")
            expect(page.locator("#show")).to_have_text(f"Mickael{n} Jackson{n}")
        page.click("#grow")  # a typed value keeps its types over the socket too
        expect(page.locator("#typed-show")).to_have_text("date 2024-01-02 tuple [1, 2, 3]")

    page.reload()  # the session store's value lives on the server
    expect(page.locator("#progress-show")).to_have_text("1.0 1.1 2.0 2.1")
    context.close()
