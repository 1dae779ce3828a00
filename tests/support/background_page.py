"""What a user does on tests/apps/background_app.py, and what they see, for the background
callback tests with each manager (diskcache, Celery)."""

from __future__ import annotations

import json

from playwright.sync_api import Error, Page, Response, expect

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
    page.click("#note")
    expect(page.locator("#done")).to_have_text("noted 1")
    expect(page.locator("#partial-show")).not_to_have_text('{"rows": []}')
    out["note"] = page.locator("#partial-show").text_content()
    out["cached"] = [cached(page), cached(page)]  # the second: from Dash's cache
    page.click("#bump")  # a new value of the store: the cache must not serve the old result
    expect(page.locator("#show")).to_contain_text('"bumps": 1')
    out["cached"].append(cached(page))
    with page.expect_response(job_started):
        page.click("#run")
    page.click("#cancel")  # the job is killed: its result never lands (see "second")
    expect(page.locator("#run")).to_be_enabled()
    out["second"] = fill(page, "run3-5")
    if page.locator("#async").count():  # Dash 3.1+: an async job
        page.click("#async")
        expect(page.locator("#show")).to_contain_text('"async1"')
    out["error"] = page.locator("#error").text_content()
    return out


def job_started(response: Response) -> bool:
    """Is this the server's answer that started a background job (the browser now knows
    the job, so a cancel reaches it)?"""
    if "_dash-update-component" not in response.url or "cacheKey=" in response.url:
        return False
    try:
        return '"job"' in response.text()
    except Error:
        return False


def check_midway(run: dict) -> None:
    """Progress showed while the job ran: the bar, and the rows so far in the store; at
    the end both went back to their progress_default."""
    assert 0 < run["midway"]["bar"] <= STEPS
    partial = run["midway"]["partial"]["rows"]
    assert partial and partial == run["rows"][-STEPS:][: len(partial)]
    assert (run["bar"], run["partial"]) == ("0", {"rows": []})
    del run["midway"]  # how far it got when looked at is the machine's pace, not the app's


def expected() -> dict:
    """What the page shows on `dcc.Store` (checked side by side in
    tests/test_background_browser.py), after `check_midway` took out the pace-bound part."""
    first = [f"run1-{i}" for i in range(STEPS)]
    second = first + [f"run3-{i}" for i in range(STEPS)]  # run 2 was cancelled
    end = {"bar": "0", "partial": {"rows": []}}  # both back to progress_default
    return {
        "first": {**end, "rows": first},
        "note": '{"rows": ["note 1"]}',  # set_props on a store the job does not declare
        "cached": [
            f"{STEPS} rows, 0 bumps, computed at click 1",
            f"{STEPS} rows, 0 bumps, computed at click 1",  # served from Dash's cache
            f"{STEPS} rows, 1 bumps, computed at click 3",  # a new store version: computed
        ],
        "second": {**end, "rows": second},
        "error": "",
    }
