"""The one duration format of every page (deployments/durations.py), as static/js/deployment.js writes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deployments.durations import between, human


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (timedelta(seconds=12.34), "12.3 s"),
        (59.94, "59.9 s"),
        (timedelta(seconds=125), "2 m 5 s"),
        (timedelta(hours=2, minutes=10, seconds=59), "2 h 10 m"),
        (timedelta(seconds=-3), "0.0 s"),  # clocks that disagree never show a negative time
    ],
)
def test_it_writes_seconds_minutes_or_hours(value, shown):
    assert human(value) == shown


def test_nothing_is_written_as_the_callers_empty_text():
    assert human(None) == ""
    assert human(None, empty="—") == "—"


def test_between_needs_both_ends():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert between(start, start + timedelta(minutes=3, seconds=4)) == "3 m 4 s"
    assert between(start, None) == ""
    assert between(None, start, empty="—") == "—"
