"""The console's words for CodeDeploy values (deployments/templatetags/codedeploy_words.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template

from deployments.models import DeploymentStatus, FileExistsBehavior
from deployments.templatetags.codedeploy_words import ago, breakable, nonzero, words

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("DISALLOW", "Fail the deployment"),
        ("OVERWRITE", "Overwrite the content"),
        ("RETAIN", "Retain the content"),
        ("IN_PLACE", "In-place"),
        ("BLUE_GREEN", "Blue/green"),
        ("InProgress", "In progress"),
        ("UPDATE", "Update outdated instances"),
        ("CodeDeployDefault.HalfAtATime", "Half of the hosts at a time"),
        ("SomethingNew", "SomethingNew"),
        (None, ""),
    ],
)
def test_values_read_as_the_console_says_them(value, expected):
    assert words(value) == expected


def test_every_status_and_file_option_has_words_that_are_not_its_raw_value():
    for value in FileExistsBehavior.values:
        assert words(value) != value
    assert words(DeploymentStatus.IN_PROGRESS) == "In progress"


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(minutes=5, seconds=3), "5\xa0minutes ago"),
        (timedelta(days=2, hours=3), "2\xa0days ago"),
    ],
)
def test_relative_times_never_say_zero_minutes(delta, expected):
    assert ago(NOW - delta, NOW) == expected


def test_breakable_escapes_and_only_allows_breaks_between_parts():
    assert breakable("CodeDeployDefault.AllAtOnce") == (
        '<span class="nw">CodeDeployDefault.</span><wbr><span class="nw">AllAtOnce</span>'
    )
    assert breakable("shop-web") == '<span class="nw">shop-web</span>'
    html = Template("{% load codedeploy_words %}{{ v|breakable }}").render(Context({"v": "a.b<script>"}))
    assert html == '<span class="nw">a.</span><wbr><span class="nw">b&lt;script&gt;</span>'


def test_zero_counts_are_left_out():
    assert nonzero({"Succeeded": 3, "Failed": 0, "Skipped": 1}) == [("Succeeded", 3), ("Skipped", 1)]
    assert nonzero([("Pending", 0)]) == []
