"""Pure planning: which hosts, in what order, how many at a time, and when a rollout has won or lost.

Nothing here touches the database, so the same functions answer the "rollout plan" preview, the
orchestrator's next step and the unit tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HOST_COUNT = "HOST_COUNT"
FLEET_PERCENT = "FLEET_PERCENT"
ONE_AT_A_TIME = "ONE_AT_A_TIME"

KEY_ONLY = "KEY_ONLY"
VALUE_ONLY = "VALUE_ONLY"
KEY_AND_VALUE = "KEY_AND_VALUE"
TAG_FILTER_TYPES = (KEY_ONLY, VALUE_ONLY, KEY_AND_VALUE)
MAX_TAG_SET_GROUPS = 3


# --- target selection ---------------------------------------------------------------------


def filter_matches(tags: dict[str, str], tag_filter: dict) -> bool:
    kind = tag_filter.get("type", KEY_AND_VALUE)
    key, value = tag_filter.get("key"), tag_filter.get("value")
    if kind == KEY_ONLY:
        return key in tags
    if kind == VALUE_ONLY:
        return value in tags.values()
    return key in tags and tags[key] == value


def matches_tags(
    tags: dict[str, str], tag_filters: Sequence[dict], tag_set: Sequence[Sequence[dict]]
) -> bool:
    """A flat filter list is ORed. A tag set is AND across its groups and OR within each group.

    Empty groups are ignored; a tag set with no filters at all matches nothing, like an empty list
    (`all()` of nothing would otherwise target the whole fleet).
    """
    groups = [group for group in tag_set or () if group]
    if groups:
        return all(any(filter_matches(tags, f) for f in group) for group in groups)
    return any(filter_matches(tags, f) for f in tag_filters or ())


# The longest tag key and value a host can carry (the agent API and the instances API enforce them).
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256


def validate_tag_filter(tag_filter: object) -> str | None:
    """Return a message saying what is wrong with one filter, or None."""
    if not isinstance(tag_filter, dict):
        return "each tag filter must be an object with key, value and type"
    unknown = set(tag_filter) - {"key", "value", "type"}
    if unknown:
        return f"unknown tag filter field(s): {', '.join(sorted(unknown))}"
    kind = tag_filter.get("type", KEY_AND_VALUE)
    if kind not in TAG_FILTER_TYPES:
        return f"type {kind!r} is not one of {', '.join(TAG_FILTER_TYPES)}"
    for name, longest in (("key", TAG_KEY_MAX), ("value", TAG_VALUE_MAX)):
        if name in tag_filter and tag_filter[name] is not None and not isinstance(tag_filter[name], str):
            return f"{name} must be a string"
        if len(tag_filter.get(name) or "") > longest:
            return (
                f"{name} is longer than a tag {name} can be ({longest} characters), so it could never match"
            )
    if kind in (KEY_ONLY, KEY_AND_VALUE) and not tag_filter.get("key"):
        return f"a {kind} filter needs a key"
    if kind in (VALUE_ONLY, KEY_AND_VALUE) and not tag_filter.get("value"):
        return f"a {kind} filter needs a value"
    return None


# --- minimum healthy hosts ----------------------------------------------------------------


@dataclass(frozen=True)
class HealthRule:
    kind: str
    value: int = 0

    @classmethod
    def one_at_a_time(cls) -> HealthRule:
        return cls(ONE_AT_A_TIME, 0)

    def minimum_healthy(self, fleet_size: int) -> int:
        """CodeDeploy's arithmetic: a percentage becomes a host count at start, rounded up."""
        if self.kind == ONE_AT_A_TIME:
            return max(fleet_size - 1, 0)
        if self.kind == FLEET_PERCENT:
            return math.ceil(fleet_size * self.value / 100)
        return self.value

    def describe(self, fleet_size: int) -> str:
        m = self.minimum_healthy(fleet_size)
        if self.kind == ONE_AT_A_TIME:
            return (
                "one host at a time; every host but the last must succeed "
                f"(minimum healthy {m} of {fleet_size})"
            )
        if self.kind == FLEET_PERCENT:
            return (
                f"minimum healthy {self.value}% of {fleet_size} = {fleet_size * self.value / 100:g}, "
                f"rounded up to {m}"
            )
        return f"minimum healthy {m} of {fleet_size} hosts"


def invalid_reason(rule: HealthRule, fleet_size: int) -> tuple[str, str] | None:
    """(error code, message) when a rollout cannot start, else None."""
    if fleet_size == 0:
        return (
            "NO_INSTANCES",
            "No instances match the deployment group's tags. Register agents with matching tags, "
            "or change the group's tag filters.",
        )
    m = rule.minimum_healthy(fleet_size)
    if m >= fleet_size:
        return (
            "HEALTH_CONSTRAINTS_INVALID",
            f"The minimum healthy hosts ({m}) is not less than the number of instances ({fleet_size}), "
            "so no instance could ever be taken out of service. Use a lower minimum or add instances.",
        )
    return None


def batch_size(rule: HealthRule, fleet_size: int) -> int:
    return max(fleet_size - rule.minimum_healthy(fleet_size), 0)


# --- ordering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    name: str
    key: object = None  # the caller's handle (an instance id)
    last_status: str = ""  # the host's last result in this group: "Failed", "Succeeded" or ""
    installed_revision: object = None  # the revision the host has for this group, or None if unknown


def order_candidates(candidates: Iterable[Candidate], revision: object) -> list[Candidate]:
    """Failed before first, then unknown revision, then old revision, then current revision."""

    def rank(c: Candidate) -> tuple[int, str]:
        if c.last_status == "Failed":
            return (0, c.name)
        if c.installed_revision is None:
            return (1, c.name)
        if c.installed_revision != revision:
            return (2, c.name)
        return (3, c.name)

    return sorted(candidates, key=rank)


# --- the plan --------------------------------------------------------------------------------


@dataclass
class Plan:
    valid: bool
    reason: str
    error_code: str
    fleet_size: int
    minimum_healthy: int
    batch_size: int
    arithmetic: str
    batches: list[list[str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "error_code": self.error_code,
            "fleet_size": self.fleet_size,
            "minimum_healthy": self.minimum_healthy,
            "batch_size": self.batch_size,
            "arithmetic": self.arithmetic,
            "batches": self.batches,
        }


def make_plan(ordered_names: Sequence[str], rule: HealthRule) -> Plan:
    """The rollout as it goes when every host succeeds: consecutive batches of the batch size."""
    n = len(ordered_names)
    m = rule.minimum_healthy(n)
    problem = invalid_reason(rule, n)
    size = batch_size(rule, n)
    batches: list[list[str]] = []
    if problem is None:
        batches = [list(ordered_names[i : i + size]) for i in range(0, n, size)]
    return Plan(
        valid=problem is None,
        reason=problem[1] if problem else "",
        error_code=problem[0] if problem else "",
        fleet_size=n,
        minimum_healthy=m,
        batch_size=size if problem is None else 0,
        arithmetic=rule.describe(n) if n else "no instances",
        batches=batches,
    )


# --- the next step of a running rollout ----------------------------------------------------


@dataclass(frozen=True)
class Step:
    start: int = 0  # how many pending hosts to start now
    # StepOutcome's values ("", "Succeeded", "Failed"), spelled out: the models import the planner.
    outcome: str = ""
    halt: bool = False  # stop starting hosts: the minimum can no longer be kept
    reason: str = ""


def next_step(
    *, fleet_size: int, minimum_healthy: int, succeeded: int, failed: int, in_progress: int, pending: int
) -> Step:
    """Decide the next move from the target counts.

    Healthy hosts are those succeeded or not yet touched; a host being deployed is out of service.
    Start as many pending hosts as keep healthy >= minimum. When failures make that impossible for
    the hosts still pending, halt: they are skipped. At the end at least max(minimum, 1) must succeed.
    """
    n, m = fleet_size, minimum_healthy
    if pending == 0 and in_progress == 0:
        if succeeded >= max(m, 1):
            return Step(outcome="Succeeded")
        return Step(
            outcome="Failed",
            reason=f"{succeeded} of {n} instances succeeded; at least {max(m, 1)} had to",
        )
    if pending and n - failed - m <= 0:
        return Step(
            halt=True,
            reason=(
                f"{failed} of {n} instances failed; taking another instance out of service would leave "
                f"fewer than the minimum of {m} healthy"
            ),
        )
    room = n - failed - in_progress - m
    return Step(start=max(min(room, pending), 0))
