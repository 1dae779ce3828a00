"""Take the README's pictures of the inspector: the dev tools panel and the operator page.

    .venv/bin/python scripts/inspector_screenshots.py   # writes docs/img/inspector-*.png
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "apps")]

import inspector_app  # noqa: E402
from conftest import CHROMIUM, CHROMIUM_ARGS, ThreadedServer  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402


def main() -> None:
    folder = tempfile.mkdtemp(prefix="dash-stash-shots-")
    server = ThreadedServer(inspector_app.make_app(f"sqlite:///{folder}/stash.db"))
    images = ROOT / "docs" / "img"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(server.url)
            out = page.locator("#out")
            expect(out).to_have_text("count=0 color=white tags=")
            for button, text in (("inc", "count=1"), ("inc", "count=2"), ("tag", "tags=t1")):
                page.click(f"#{button}")
                expect(out).to_contain_text(text)
            page.click("#conflict")
            expect(page.locator("#out")).not_to_contain_text("white")
            page.click("#dash-stash-panel-button")
            page.click(".ds-store[data-id='counter']")
            page.click("#ds-tab-history")
            expect(page.locator(".ds-conflict")).to_have_count(1)
            page.screenshot(path=str(images / "inspector-panel.png"))
            page.click("#ds-tab-diff")
            page.select_option("#ds-diff-a", "1")
            page.click("#ds-diff-go")
            expect(page.locator(".ds-change").first).to_be_visible()
            page.screenshot(path=str(images / "inspector-diff.png"))
            for _ in range(2):  # a few more sessions for the operator page
                other = browser.new_context().new_page()
                other.goto(server.url)
                other.click("#inc")
                expect(other.locator("#out")).to_contain_text("count=1")
            page.goto(server.url + "/_dash-stash/")
            page.screenshot(path=str(images / "inspector-page.png"), full_page=True)
            browser.close()
    finally:
        server.stop()
    print(f"wrote {images}/inspector-panel.png, inspector-diff.png, inspector-page.png")


if __name__ == "__main__":
    main()
