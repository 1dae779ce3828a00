"""Drive the seed article's app: click it in a browser, and find its gunicorn workers."""

from __future__ import annotations

import json
import time
import urllib.request


def run_clicks(page, url: str, clicks: int) -> list[str]:
    """Click `clicks` times; return what the page showed after each click that lost a name."""
    page.goto(url)
    page.wait_for_selector("#show")
    page.evaluate(IDLE_PROBE)
    lost = []
    for n in range(1, clicks + 1):
        page.evaluate("window.__done = 0")
        page.click("#load_data")
        page.wait_for_function("window.__settled()", polling=50)
        text = page.text_content("#show")
        if text != f"Mickael{n} Jackson{n}":
            lost.append(f"click {n}: {text}")
    return lost


# Counts finished callback requests so the test knows when a click's callbacks are all done:
# each click runs load_data, update_first_name, update_last_name and show (once or twice).
IDLE_PROBE = """
() => {
    window.__done = 0; window.__inflight = 0;
    const orig = window.fetch;
    window.fetch = async (...a) => {
        const cb = String(a[0]).includes('_dash-update-component');
        if (cb) window.__inflight++;
        try { return await orig(...a); }
        finally { if (cb) { window.__inflight--; window.__done++; } }
    };
    window.__settled = () => {
        // a click runs at least 4 callbacks (load, first, last, show); then 250 ms of quiet
        if (window.__inflight > 0 || window.__done < 4) { window.__quiet = 0; return false; }
        window.__quiet = (window.__quiet || 0) + 1;
        return window.__quiet > 5;
    };
}
"""


CALLBACK = "_dash-update-component"


# The seed app's `show` callback with an empty store: it answers with the worker's pid.
SHOW = {
    "output": "..show.children...pids.children..",
    "outputs": [{"id": "show", "property": "children"}, {"id": "pids", "property": "children"}],
    "inputs": [{"id": "user_data", "property": "data", "value": None}],
    "state": [{"id": "pids", "property": "children", "value": None}],
    "changedPropIds": [],
}


def worker_pids(url: str, workers: int) -> set[str]:
    """One request at a time until every worker has answered; return their pids."""
    pids: set[str] = set()
    deadline = time.monotonic() + 30  # a worker still booting answers nothing yet
    while time.monotonic() < deadline:
        request = urllib.request.Request(
            f"{url}/{CALLBACK}",
            data=json.dumps(SHOW).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            pids.add(json.loads(reply.read())["response"]["pids"]["children"])
        if len(pids) == workers:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"only workers {pids} of {workers} answered {url}")
