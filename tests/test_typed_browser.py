"""Typed values in a real browser: DataFrames, arrays and typed dicts go through a store and
come back with dtypes, index and content intact; bad values fail loudly and change nothing."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from dash_stash import codec
from tests.apps import typed_app

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def open_app(serve, page, tmp_path, **init):
    app = typed_app.make_app(f"sqlite:///{tmp_path}/stash.db", **init)
    url = serve(app).url
    page.goto(url)
    expect(page.locator("#write")).to_be_visible()
    return url


def write(page, case: str, n: int) -> None:
    page.fill("#case", case)
    page.click("#write")
    expect(page.locator("#wrote")).to_have_text(f"wrote {n}: {case}")


def read(page, n: int, target: str = "#report", button: str = "#read") -> dict:
    page.click(button)
    out = page.locator(target)
    expect(out).to_contain_text(f"read {n}: ")
    return json.loads(out.text_content().split(": ", 1)[1])


def expected(case: str) -> dict:
    return json.loads(typed_app.report(typed_app.CASES[case]()))


def wait_for_log(page, caplog, text: str) -> None:
    for _ in range(100):  # the server thread logs the error as it answers
        if text in caplog.text:
            return
        page.wait_for_timeout(50)


ROUND_TRIPS = [
    "dtypes_frame",
    "multiindex_frame",
    "datetime_index_frame",
    "labels_frame",
    "empty_frame",
    "series",
    "numpy_array",
    "polars_frame",
    "mixed",
]


def test_typed_values_round_trip_through_the_browser(serve, page, tmp_path):
    open_app(serve, page, tmp_path)
    for n, case in enumerate(ROUND_TRIPS, start=1):
        write(page, case, n)
        assert read(page, n) == expected(case), case


def test_dtypes_survive_exactly(serve, page, tmp_path):
    """The report really checks dtypes: spot-check the ones the issue names."""
    open_app(serve, page, tmp_path)
    write(page, "dtypes_frame", 1)
    got = dict(zip(typed_app.dtypes_frame().columns, read(page, 1)["dtypes"], strict=True))
    assert got["category"].startswith("CategoricalDtype(categories=['hi', 'lo', 'mid']")
    assert "ordered=True" in got["ordered"]
    assert got["datetime_tz"] == "datetime64[ns, Europe/Paris]"
    assert got["Int64"] == "Int64Dtype()" and got["boolean"] == "BooleanDtype"
    assert got["string"].startswith("<StringDtype(") and got["object"] == "dtype('O')"
    assert got["datetime"] == "dtype('<M8[ns]')" and got["datetime_us"] == "dtype('<M8[us]')"
    assert got["timedelta"] == "dtype('<m8[us]')" and got["bool"] == "dtype('bool')"


def test_layout_data_stays_on_the_server(serve, page, tmp_path):
    url = open_app(serve, page, tmp_path)
    response = page.request.get(f"{url}/_dash-layout")
    assert response.ok
    text = response.text()
    assert typed_app.MARKER not in text and "Europe/Paris" not in text and "2262" not in text
    store = next(c for c in _components(json.loads(text)) if c["props"].get("id") == "init")
    token = store["props"]["data"]
    assert isinstance(token, str) and token.startswith("ds1.") and len(token) < 300
    assert typed_app.MARKER not in page.content()
    assert read(page, 1, "#init-report", "#read-init") == expected("dtypes_frame")


def _components(node):
    if isinstance(node, dict):
        if "props" in node:
            yield node
        for value in node.values():
            yield from _components(value)
    elif isinstance(node, list):
        for item in node:
            yield from _components(item)


@pytest.mark.parametrize(
    "case, words",
    [
        (
            "bad_object",
            ["callback 'write', store 't'", 't["model"]: object of type Booster is not storable'],
        ),
        (
            "bad_array",
            ["callback 'write', store 't'", "t: a numpy array of dtype object is not storable"],
        ),
    ],
)
def test_unstorable_value_fails_the_callback_and_keeps_the_value(
    serve, page, tmp_path, caplog, case, words
):
    open_app(serve, page, tmp_path)
    write(page, "dtypes_frame", 1)
    before = read(page, 1)
    page.fill("#case", case)
    with page.expect_response(lambda r: "_dash-update-component" in r.url and r.status == 500):
        page.click("#write")
    wait_for_log(page, caplog, words[1])
    for text in words:
        assert text in caplog.text
    expect(page.locator("#wrote")).to_have_text("wrote 1: dtypes_frame")
    assert read(page, 2) == before == expected("dtypes_frame")


def test_value_over_the_size_limit_fails_and_keeps_the_value(serve, page, tmp_path, caplog):
    limit = 1_000_000
    size = codec.encode(typed_app.big_frame()).size
    assert size > limit
    open_app(serve, page, tmp_path, max_value_bytes=limit)
    write(page, "dtypes_frame", 1)
    page.fill("#case", "big_frame")
    with page.expect_response(lambda r: "_dash-update-component" in r.url and r.status == 500):
        page.click("#write")
    words = f"the value is {size:,} bytes encoded, over the limit of {limit:,} bytes"
    wait_for_log(page, caplog, words)
    assert words in caplog.text and "callback 'write', store 't'" in caplog.text
    assert read(page, 1) == expected("dtypes_frame")


def test_a_million_rows_end_to_end(serve, page, tmp_path):
    # Over the default 32 MiB per value: an app that stores a million rows raises the limit.
    open_app(serve, page, tmp_path, max_value_bytes=512 * 1024 * 1024)
    start = time.monotonic()
    write(page, "million", 1)
    got = read(page, 1)
    elapsed = time.monotonic() - start
    assert got["shape"] == [1_000_000, 10]
    assert got == expected("million")
    assert elapsed < 20, f"writing and reading 1M rows took {elapsed:.1f} s"
