"""Target selection by tag filters and tag sets."""

from __future__ import annotations

import pytest

from deployments import planner

WEB = {"role": "web", "env": "prod"}
DB = {"role": "db", "env": "prod"}
STAGING = {"role": "web", "env": "staging"}


def kv(key, value):
    return {"key": key, "value": value, "type": "KEY_AND_VALUE"}


def key_only(key):
    return {"key": key, "type": "KEY_ONLY"}


def value_only(value):
    return {"value": value, "type": "VALUE_ONLY"}


def test_key_only_matches_any_value_of_that_key():
    assert planner.filter_matches(WEB, key_only("role"))
    assert planner.filter_matches({"role": ""}, key_only("role"))
    assert not planner.filter_matches(WEB, key_only("team"))


def test_value_only_matches_that_value_under_any_key():
    assert planner.filter_matches(WEB, value_only("prod"))
    assert planner.filter_matches({"tier": "web"}, value_only("web"))
    assert not planner.filter_matches(WEB, value_only("staging"))


def test_key_and_value_needs_both_on_the_same_tag():
    assert planner.filter_matches(WEB, kv("role", "web"))
    assert not planner.filter_matches(WEB, kv("role", "prod"))
    assert not planner.filter_matches({"env": "web"}, kv("role", "web"))


def test_a_filter_without_a_type_is_key_and_value():
    assert planner.filter_matches(WEB, {"key": "role", "value": "web"})
    assert not planner.filter_matches(WEB, {"key": "role", "value": "db"})


def test_a_flat_filter_list_is_ored():
    filters = [kv("role", "db"), kv("env", "staging")]
    assert planner.matches_tags(DB, filters, [])
    assert planner.matches_tags(STAGING, filters, [])
    assert not planner.matches_tags(WEB, filters, [])


def test_an_empty_filter_list_matches_nothing():
    assert not planner.matches_tags(WEB, [], [])


def test_a_tag_set_is_and_across_groups_and_or_within_each():
    tag_set = [[kv("role", "web"), kv("role", "db")], [kv("env", "prod")]]
    assert planner.matches_tags(WEB, [], tag_set)
    assert planner.matches_tags(DB, [], tag_set)
    assert not planner.matches_tags(STAGING, [], tag_set)
    assert not planner.matches_tags({"env": "prod"}, [], tag_set)


def test_a_tag_set_of_three_groups_needs_all_three():
    tag_set = [[key_only("role")], [value_only("prod")], [kv("team", "a")]]
    assert planner.matches_tags({**WEB, "team": "a"}, [], tag_set)
    assert not planner.matches_tags(WEB, [], tag_set)


def test_a_tag_set_with_only_empty_groups_matches_nothing_rather_than_everything():
    assert not planner.matches_tags(WEB, [], [[]])
    assert not planner.matches_tags(WEB, [], [[], []])


def test_an_empty_group_in_a_tag_set_is_ignored():
    assert planner.matches_tags(WEB, [], [[kv("role", "web")], []])


@pytest.mark.parametrize(
    "tag_filter",
    [
        kv("role", "web"),
        key_only("role"),
        value_only("web"),
        {"key": "role", "value": "web"},
        {"key": "role", "value": None, "type": "KEY_ONLY"},
    ],
)
def test_validate_tag_filter_accepts_well_formed_filters(tag_filter):
    assert planner.validate_tag_filter(tag_filter) is None


@pytest.mark.parametrize(
    ("tag_filter", "message"),
    [
        ("role=web", "each tag filter must be an object with key, value and type"),
        (["role", "web"], "each tag filter must be an object with key, value and type"),
        ({"key": "a", "value": "b", "colour": "x", "Type": "y"}, "unknown tag filter field(s): Type, colour"),
        (
            {"key": "a", "value": "b", "type": "KEY"},
            "type 'KEY' is not one of KEY_ONLY, VALUE_ONLY, KEY_AND_VALUE",
        ),
        ({"key": 1, "value": "b"}, "key must be a string"),
        ({"key": "a", "value": 2}, "value must be a string"),
        ({"type": "KEY_ONLY"}, "a KEY_ONLY filter needs a key"),
        ({"key": "", "type": "KEY_ONLY"}, "a KEY_ONLY filter needs a key"),
        ({"key": "a", "type": "VALUE_ONLY"}, "a VALUE_ONLY filter needs a value"),
        ({"key": "a"}, "a KEY_AND_VALUE filter needs a value"),
        ({"value": "b"}, "a KEY_AND_VALUE filter needs a key"),
    ],
)
def test_validate_tag_filter_names_what_is_wrong(tag_filter, message):
    assert planner.validate_tag_filter(tag_filter) == message
