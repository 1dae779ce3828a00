"""A read gives back exactly what `dcc.Store` gives back: both stores in one app, in Chromium.

Every sample goes through a real `dcc.Store` (Dash's encoder, the browser, browser storage, the
request back) and through a `dash_stash.Store` on SQLite; the callback's view of each is
compared as `repr`, so types, key order and number formats must all match.
"""

from __future__ import annotations

import decimal
import json
import os
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from playwright.sync_api import expect

from dash_stash.codec.registry import browser_json
from tests.apps import dropin_app

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# The issue's table: what 0.1 got wrong, and the neighbours of each case.
TABLE = [
    {0: ["a", "b"], 1: ["c"]},  # int keys (df.to_dict())
    pd.DataFrame({"x": [1, 2]}, index=[10, 20]).to_dict(),
    [{"day": pd.Timestamp("2024-03-01 10:30"), "n": 1}, {"day": datetime(2024, 3, 2)}],
    go.Figure(go.Scatter(x=[1, 2, 3], y=[4.5, 5, 6])),
    {"fig": go.Figure(go.Bar(x=["a"], y=[1]))},
    np.arange(4),
    np.array([[1.5, 2.0], [np.nan, np.inf]]),
    (1, (2, 3)),
    decimal.Decimal("1.10"),
    [date(2024, 1, 31), time(12, 30, 1, 500), datetime(2024, 1, 1, tzinfo=timezone.utc)],
    [1.0, -0.0, 2.5, 1e16, 1e21, 2**53 + 1, 2**60, -(2**63), float("nan")],
    {"b": 1, "10": 2, "2": 3, "a": 4, "01": 5, True: 6, None: 7, 1.5: 8},
    uuid.UUID(int=7),
    pd.Series([1.5, 2.5], index=["p", "q"]),
    np.array(["2024-01-01", "2024-06-01"], dtype="datetime64[D]"),
    {"nat": pd.NaT, "na": pd.NA, "np": np.float64(0.5), "i": np.int64(-3)},
]

keys = st.one_of(
    st.text(max_size=4),
    st.integers(-3, 2**40).map(str),
    st.integers(-3, 2**40),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=8),
    st.datetimes(timezones=st.sampled_from([None, timezone.utc, timezone(timedelta(hours=-3))])),
    st.dates(),
    st.times(),
    st.decimals(places=3, allow_nan=False),
    st.uuids(),
    st.builds(pd.Timestamp, st.datetimes(min_value=datetime(1700, 1, 1))),
    st.lists(st.floats(width=32), max_size=4).map(np.array),
    st.lists(st.integers(-(2**40), 2**40), max_size=4).map(np.array),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=12,
)


@pytest.fixture(params=["memory", "local"])
def storage_type(request):
    return request.param


def compare_in_browser(serve, browser, tmp_path, samples, storage_type):
    """Serve both stores with `samples` in a fresh browser and database; show each sample;
    return [n, repr as dcc.Store gave it, as dash_stash.Store did, as Store(typed=True) did]."""
    db = tmp_path / f"{uuid.uuid4().hex}.db"
    url = serve(dropin_app.make_app(samples, f"sqlite:///{db}", storage_type)).url
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    seen = []
    for n in range(len(samples)):
        if n:
            page.fill("#pick", str(n))
        expect(page.locator("#seen")).to_have_text(re.compile(rf"^\[{n},"))
        seen.append(json.loads(page.locator("#seen").text_content()))
    context.close()
    return seen


def test_issue_table_reads_as_dcc_store(serve, browser, tmp_path, storage_type):
    for n, from_dcc, from_stash, _ in compare_in_browser(
        serve, browser, tmp_path, TABLE, storage_type
    ):
        assert from_stash == from_dcc, f"sample {n}: {TABLE[n]!r}"


# A few batches: Hypothesis starts with the simplest one; each batch is one app and one page.
@settings(
    max_examples=int(os.environ.get("DROPIN_BATCHES", 4)),
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(st.lists(values, min_size=60, max_size=60))
def test_generated_values_read_as_dcc_store(serve, browser, tmp_path, samples):
    samples = [v for v in samples if browser_json(v) is not None][:40]  # dcc.Store can hold
    for n, from_dcc, from_stash, _ in compare_in_browser(
        serve, browser, tmp_path, [None, *samples], "local"
    ):
        assert from_stash == from_dcc, f"sample {n}: {([None, *samples])[n]!r}"


def test_typed_store_keeps_types_and_unserializable_values_keep_theirs(serve, page, tmp_path):
    exact = {"a": np.arange(3), "t": pd.Timestamp("2024-01-01 10:00"), "d": date(2024, 1, 2)}
    samples = [None, exact, {"s": {1, 2}, "u": uuid.UUID(int=1), "k": {1: (2, 3)}}]
    app = dropin_app.make_app(samples, f"sqlite:///{tmp_path}/stash.db", dcc_skips={2})
    page.goto(serve(app).url)
    expect(page.locator("#seen")).to_have_text(re.compile(r"^\[0,"))
    page.fill("#pick", "1")
    expect(page.locator("#seen")).to_have_text(re.compile(r"^\[1,"))
    _, _, from_stash, from_typed = json.loads(page.locator("#seen").text_content())
    assert from_typed == repr(exact)  # typed=True: the array, the Timestamp, the date
    assert from_stash == "{'a': [0, 1, 2], 't': '2024-01-01T10:00:00', 'd': '2024-01-02'}"
    page.fill("#pick", "2")  # Dash's encoder fails on a set: the whole value keeps its types
    expect(page.locator("#seen")).to_have_text(re.compile(r"^\[2,"))
    _, _, from_stash, from_typed = json.loads(page.locator("#seen").text_content())
    assert from_stash == from_typed == repr(samples[2])
