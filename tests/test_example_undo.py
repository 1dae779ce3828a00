"""`examples/undo_redo.py`: undo and redo from a store's history, as a user runs it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_undo_and_redo_walk_the_history(gunicorn, page, tmp_path):
    server = gunicorn("undo_redo:server", workers=2, cwd=tmp_path, env={"DASH_STASH_BACKEND": ""})
    page.goto(server.url)
    items = page.locator("#items li")
    expect(page.locator("#versions")).to_have_text("no version yet")
    for name in ("milk", "eggs", "tea"):
        page.fill("#item", name)
        page.click("#add")
        expect(items.last).to_have_text(name)
    expect(items).to_have_text(["milk", "eggs", "tea"])

    page.click("#undo")
    expect(items).to_have_text(["milk", "eggs"])
    page.click("#undo")
    expect(items).to_have_text(["milk"])
    page.click("#redo")
    expect(items).to_have_text(["milk", "eggs"])
    # history stays append-only: each undo and redo is a new version, of kind "restore"
    expect(page.locator("#versions")).to_contain_text("v6 restore; v5 restore; v4 restore")

    page.fill("#item", "jam")  # a new edit after an undo drops the redo stack
    page.click("#add")
    expect(items).to_have_text(["milk", "eggs", "jam"])
    versions = page.locator("#versions")
    page.click("#redo")  # nothing to redo: no new version
    page.click("#undo")
    expect(items).to_have_text(["milk", "eggs"])
    expect(versions).to_contain_text("v8 restore; v7 replace")  # the redo wrote nothing
    page.click("#undo")
    expect(items).to_have_text(["milk"])
    page.click("#undo")  # back to the layout's empty list
    expect(items).to_have_count(0)
    expect(versions).to_contain_text("v10 replace")
    page.click("#undo")  # and no further
    page.click("#redo")
    expect(items).to_have_text(["milk"])
    expect(versions).to_contain_text("v11 restore; v10 replace")
