"""The pure planner against the reference's minimum-healthy-hosts rules (codedeploy-reference.md)."""

from __future__ import annotations

import pytest
from planner_sim import names, simulate

from deployments import planner
from deployments.planner import FLEET_PERCENT, HOST_COUNT, Candidate, HealthRule

ONE = HealthRule.one_at_a_time()
HALF = HealthRule(FLEET_PERCENT, 50)  # CodeDeployDefault.HalfAtATime
ALL = HealthRule(HOST_COUNT, 0)  # CodeDeployDefault.AllAtOnce
S, F = "Succeeded", "Failed"


# --- the reference's nine-instance examples ---------------------------------------------------


def test_one_at_a_time_deploys_one_host_per_batch():
    plan = planner.make_plan(names(9), ONE)
    assert plan.valid
    assert plan.minimum_healthy == 8
    assert plan.batch_size == 1
    assert plan.batches == [[n] for n in names(9)]


def test_one_at_a_time_still_succeeds_when_only_the_last_host_fails():
    run = simulate(9, ONE, [S] * 8 + [F])
    assert run.outcome == S
    assert run.skipped == []


def test_one_at_a_time_fails_when_an_earlier_host_fails_and_skips_the_rest():
    run = simulate(9, ONE, [S, S, F] + [S] * 6)
    assert run.outcome == F
    assert run.halted
    assert run.attempted == names(9)[:3]
    assert run.skipped == names(9)[3:]


def test_one_at_a_time_on_a_single_host_needs_that_host_to_succeed():
    assert planner.make_plan(["a"], ONE).valid
    assert simulate(1, ONE, [S]).outcome == S
    assert simulate(1, ONE, [F]).outcome == F


def test_half_at_a_time_deploys_four_of_nine_at_a_time_and_needs_five():
    plan = planner.make_plan(names(9), HALF)
    assert plan.minimum_healthy == 5
    assert plan.batch_size == 4
    assert [len(b) for b in plan.batches] == [4, 4, 1]


def test_half_at_a_time_succeeds_when_five_of_nine_succeed():
    run = simulate(9, HALF, [S] * 5 + [F] * 4)
    assert run.outcome == S
    assert run.max_in_progress == 4


def test_half_at_a_time_fails_when_only_four_of_nine_can_succeed():
    run = simulate(9, HALF, [F] * 4 + [S] * 5)
    assert run.outcome == F
    assert run.halted
    assert run.attempted == names(9)[:4]
    assert run.skipped == names(9)[4:]


def test_all_at_once_has_no_minimum_and_starts_every_host():
    plan = planner.make_plan(names(9), ALL)
    assert plan.minimum_healthy == 0
    assert plan.batches == [names(9)]


def test_all_at_once_succeeds_when_at_least_one_host_succeeds():
    run = simulate(9, ALL, [F] * 8 + [S])
    assert run.outcome == S
    assert run.max_in_progress == 9


def test_all_at_once_fails_when_every_host_fails():
    run = simulate(9, ALL, [F] * 9)
    assert run.outcome == F
    assert not run.halted
    assert run.skipped == []


def test_host_count_six_of_nine_deploys_three_at_a_time():
    plan = planner.make_plan(names(9), HealthRule(HOST_COUNT, 6))
    assert plan.minimum_healthy == 6
    assert plan.batch_size == 3
    assert plan.batches == [names(9)[0:3], names(9)[3:6], names(9)[6:9]]


def test_fleet_percent_forty_of_nine_rounds_up_to_four_and_deploys_five_at_a_time():
    rule = HealthRule(FLEET_PERCENT, 40)
    plan = planner.make_plan(names(9), rule)
    assert rule.minimum_healthy(9) == 4  # ceil(3.6)
    assert plan.batch_size == 5
    assert "3.6" in plan.arithmetic and "4" in plan.arithmetic


@pytest.mark.parametrize(
    ("rule", "fleet"),
    [
        (HealthRule(HOST_COUNT, 9), 9),
        (HealthRule(HOST_COUNT, 12), 9),
        (HealthRule(FLEET_PERCENT, 99), 9),  # ceil(8.91) = 9
        (HALF, 1),  # ceil(0.5) = 1
    ],
)
def test_a_minimum_not_below_the_fleet_size_is_health_constraints_invalid(rule, fleet):
    plan = planner.make_plan(names(fleet), rule)
    assert not plan.valid
    assert plan.error_code == "HEALTH_CONSTRAINTS_INVALID"
    assert plan.batches == []
    assert plan.batch_size == 0
    assert "minimum healthy hosts" in plan.reason


@pytest.mark.parametrize("rule", [ONE, HALF, ALL, HealthRule(FLEET_PERCENT, 0)])
def test_zero_instances_is_no_instances(rule):
    plan = planner.make_plan([], rule)
    assert not plan.valid
    assert plan.error_code == "NO_INSTANCES"
    assert "tag" in plan.reason
    assert plan.arithmetic == "no instances"


def test_fleet_percent_is_rounded_up_exactly_at_integer_boundaries():
    assert HealthRule(FLEET_PERCENT, 50).minimum_healthy(10) == 5
    assert HealthRule(FLEET_PERCENT, 10).minimum_healthy(10) == 1
    assert HealthRule(FLEET_PERCENT, 1).minimum_healthy(10) == 1
    assert HealthRule(FLEET_PERCENT, 0).minimum_healthy(10) == 0
    assert HealthRule(FLEET_PERCENT, 7).minimum_healthy(100) == 7


def test_the_plan_serialises_for_the_rollout_preview():
    data = planner.make_plan(["a", "b"], ALL).as_dict()
    assert data["batches"] == [["a", "b"]]
    assert set(data) == {
        "valid",
        "reason",
        "error_code",
        "fleet_size",
        "minimum_healthy",
        "batch_size",
        "arithmetic",
        "batches",
    }


# --- next_step directly ----------------------------------------------------------------------


def test_next_step_starts_as_many_hosts_as_keep_the_minimum():
    step = planner.next_step(fleet_size=9, minimum_healthy=5, succeeded=0, failed=0, in_progress=0, pending=9)
    assert step == planner.Step(start=4)


def test_next_step_waits_while_the_running_hosts_use_all_the_room():
    step = planner.next_step(fleet_size=9, minimum_healthy=5, succeeded=0, failed=0, in_progress=4, pending=5)
    assert step.start == 0 and not step.halt and not step.outcome


def test_next_step_halts_as_soon_as_another_host_would_break_the_minimum():
    step = planner.next_step(fleet_size=9, minimum_healthy=8, succeeded=1, failed=1, in_progress=0, pending=7)
    assert step.halt
    assert "1 of 9 instances failed" in step.reason


def test_next_step_never_reports_success_with_no_host_succeeded():
    step = planner.next_step(fleet_size=3, minimum_healthy=0, succeeded=0, failed=3, in_progress=0, pending=0)
    assert step.outcome == F
    assert "at least 1" in step.reason


# --- ordering --------------------------------------------------------------------------------


def test_candidates_are_ordered_failed_then_unknown_then_old_then_current_revision():
    current, old = 7, 3
    candidates = [
        Candidate("e-current", installed_revision=current, last_status="Succeeded"),
        Candidate("d-old", installed_revision=old, last_status="Succeeded"),
        Candidate("c-unknown"),
        Candidate("b-failed-current", installed_revision=current, last_status="Failed"),
        Candidate("a-current", installed_revision=current, last_status="Succeeded"),
        Candidate("f-failed-unknown", last_status="Failed"),
    ]
    ordered = [c.name for c in planner.order_candidates(candidates, current)]
    assert ordered == ["b-failed-current", "f-failed-unknown", "c-unknown", "d-old", "a-current", "e-current"]


def test_candidates_of_equal_rank_are_ordered_by_name_whatever_the_input_order():
    forward = [Candidate(n) for n in ["web-3", "web-1", "web-2"]]
    assert [c.name for c in planner.order_candidates(forward, 1)] == ["web-1", "web-2", "web-3"]
    assert [c.name for c in planner.order_candidates(reversed(forward), 1)] == ["web-1", "web-2", "web-3"]


def test_a_host_with_the_current_revision_from_a_failed_deployment_goes_first():
    ordered = planner.order_candidates(
        [Candidate("a", installed_revision=1), Candidate("z", installed_revision=1, last_status="Failed")], 1
    )
    assert [c.name for c in ordered] == ["z", "a"]
