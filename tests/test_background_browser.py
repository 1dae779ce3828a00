"""Background callbacks read and write stores, in a real browser, with Dash's real managers:
the DiskcacheManager's job subprocesses (here) and a Celery worker (tests/redis/).

The app (tests/apps/background_app.py) runs under gunicorn, as users run it; the same page
runs on `dcc.Store` and on `dash_stash.Store`, and what the user sees must match."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]

STEPS = 6  # background_app.STEPS (not imported: importing the app builds it)


def rows(page: Page) -> list[str]:
    return json.loads(page.locator("#show").text_content() or "{}").get("rows", [])


def fill(page: Page, last: str) -> dict:
    """Click run; what the page showed while the job ran and once it finished (once the
    page shows the `last` row: the store's dependent callback runs after the job ends)."""
    page.click("#run")
    expect(page.locator("#run")).to_be_disabled()  # running=
    expect(page.locator("#cancel")).to_be_enabled()
    expect(page.locator("#bar")).not_to_have_attribute("value", "0")  # progress=
    midway = {
        "bar": int(page.locator("#bar").get_attribute("value") or 0),
        "partial": json.loads(page.locator("#partial-show").text_content() or "null"),
    }
    expect(page.locator("#run")).to_be_enabled(timeout=30_000)
    expect(page.locator("#show")).to_contain_text(last)
    expect(page.locator("#partial-show")).to_have_text('{"rows": []}')  # progress_default
    return {
        "midway": midway,
        "bar": page.locator("#bar").get_attribute("value"),
        "rows": rows(page),
        "partial": json.loads(page.locator("#partial-show").text_content() or "null"),
    }


def cached(page: Page) -> str:
    page.click("#cached")
    expect(page.locator("#cached")).to_be_disabled()
    expect(page.locator("#cached")).to_be_enabled(timeout=30_000)
    return page.locator("#cached-out").text_content() or ""


def use(page: Page, url: str) -> dict:
    """One user's visit: fill, cached results, cancel, fill again."""
    page.goto(url)
    expect(page.locator("#show")).to_have_text('{"bumps": 0, "rows": []}')
    out = {"first": fill(page, "run1-5")}
    out["cached"] = [cached(page), cached(page)]  # the second: from Dash's cache
    page.click("#bump")  # a new value of the store: the cache must not serve the old result
    expect(page.locator("#show")).to_contain_text('"bumps": 1')
    out["cached"].append(cached(page))
    page.click("#run")
    expect(page.locator("#bar")).not_to_have_attribute("value", "0")
    page.click("#cancel")  # the job is killed: its result never lands (see "second")
    expect(page.locator("#run")).to_be_enabled()
    out["second"] = fill(page, "run3-5")
    out["error"] = page.locator("#error").text_content()
    return out


def check_midway(run: dict) -> None:
    """Progress showed while the job ran: the bar, and the rows so far in the store; at
    the end both went back to their progress_default."""
    assert 0 < run["midway"]["bar"] <= STEPS
    partial = run["midway"]["partial"]["rows"]
    assert partial and partial == run["rows"][-STEPS:][: len(partial)]
    assert (run["bar"], run["partial"]) == ("0", {"rows": []})
    del run["midway"]  # how far it got when looked at is the machine's pace, not the app's


def test_a_background_job_fills_a_store_as_it_fills_a_dcc_store(gunicorn, browser, tmp_path):
    results = {}
    for kind in ("dcc", "stash"):
        env = {
            "BG_MANAGER": "diskcache",
            "BG_STORE": kind,
            "BG_CACHE_DIR": str(tmp_path / kind / "cache"),
            "DASH_STASH_BACKEND": f"sqlite:///{tmp_path}/stash.db",
        }
        server = gunicorn("background_app:server", workers=1, env=env)
        context = browser.new_context()
        results[kind] = use(context.new_page(), server.url)
        context.close()
        check_midway(results[kind]["first"])
        check_midway(results[kind]["second"])
    assert results["stash"] == results["dcc"]
    first = [f"run1-{i}" for i in range(STEPS)]
    run = results["dcc"]
    assert run["first"]["rows"] == first
    assert run["cached"] == [
        f"{STEPS} rows, 0 bumps, computed at click 1",
        f"{STEPS} rows, 0 bumps, computed at click 1",  # served from the cache
        f"{STEPS} rows, 1 bumps, computed at click 3",
    ]
    assert run["second"]["rows"] == first + [f"run3-{i}" for i in range(STEPS)]
    assert run["error"] == ""
