"""Whole rollouts driven through planner.next_step, scripted and generated."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from planner_sim import names, simulate

from deployments import planner
from deployments.planner import FLEET_PERCENT, HOST_COUNT, HealthRule

S, F = "Succeeded", "Failed"
ONE = HealthRule.one_at_a_time()
HALF = HealthRule(FLEET_PERCENT, 50)
ALL = HealthRule(HOST_COUNT, 0)


@pytest.mark.parametrize(
    ("n", "rule", "outcomes", "expected", "never_attempted"),
    [
        # every host succeeds
        (1, ALL, [S], S, 0),
        (5, ONE, [S] * 5, S, 0),
        (9, HALF, [S] * 9, S, 0),
        (10, HealthRule(FLEET_PERCENT, 75), [S] * 10, S, 0),
        (40, HealthRule(HOST_COUNT, 39), [S] * 40, S, 0),
        # OneAtATime: only the last host may fail
        (2, ONE, [S, F], S, 0),
        (2, ONE, [F, S], F, 1),
        (5, ONE, [S, S, S, F, S], F, 1),
        # HOST_COUNT 6 of 9: three failures leave no room; the rest are skipped
        (9, HealthRule(HOST_COUNT, 6), [F, F, F] + [S] * 6, F, 6),
        (9, HealthRule(HOST_COUNT, 6), [F, S, S, S, F, S, S, S, S], S, 0),
        (9, HealthRule(HOST_COUNT, 6), [S] * 6 + [F] * 3, S, 0),
        (9, HealthRule(HOST_COUNT, 6), [S] * 5 + [F] * 4, F, 1),
        # FLEET_PERCENT 40 of 9: minimum 4, five at a time
        (9, HealthRule(FLEET_PERCENT, 40), [F] * 5 + [S] * 4, F, 4),
        (9, HealthRule(FLEET_PERCENT, 40), [S] * 4 + [F] * 5, S, 0),
        (9, HealthRule(FLEET_PERCENT, 40), [S] * 3 + [F] * 6, F, 1),
        # AllAtOnce never halts; one success is enough
        (4, ALL, [F, F, F, S], S, 0),
        (4, ALL, [F] * 4, F, 0),
        # FLEET_PERCENT 0 is AllAtOnce by another name
        (3, HealthRule(FLEET_PERCENT, 0), [F, S, F], S, 0),
    ],
)
def test_a_scripted_rollout_ends_as_the_reference_says(n, rule, outcomes, expected, never_attempted):
    run = simulate(n, rule, outcomes)
    assert run.outcome == expected
    assert len(run.skipped) == never_attempted
    assert run.attempted + run.skipped == names(n)
    assert run.halted == bool(never_attempted)


def test_a_rollout_with_no_failures_starts_hosts_in_batch_sized_steps_at_first():
    run = simulate(9, HALF, [S] * 9)
    assert run.starts[0] == 4
    assert run.max_in_progress == 4
    assert sum(run.starts) == 9


def test_hosts_restart_as_soon_as_room_frees_up_rather_than_waiting_for_the_whole_batch():
    run = simulate(9, HealthRule(HOST_COUNT, 6), [S] * 9)
    assert run.starts == [3] + [1] * 6


rules = st.one_of(
    st.just(ONE),
    st.builds(HealthRule, st.just(HOST_COUNT), st.integers(0, 45)),
    st.builds(HealthRule, st.just(FLEET_PERCENT), st.integers(0, 99)),
)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(1, 40), rule=rules)
def test_any_rollout_keeps_the_minimum_and_ends_as_the_reference_says(data, n, rule):
    m = rule.minimum_healthy(n)
    if planner.invalid_reason(rule, n):
        assert m >= n
        return
    outcomes = data.draw(st.lists(st.sampled_from([S, F]), min_size=n, max_size=n), label="outcomes")
    run = simulate(n, rule, outcomes, pick=lambda k: data.draw(st.integers(0, k - 1), label="finishes"))

    # (a) never more hosts out of service than the fleet can spare
    assert run.max_in_progress <= n - m
    assert run.max_in_progress >= 1
    # (b) starting hosts never takes healthy (not failed, not in progress) below the minimum
    assert run.min_healthy_after_start is not None and run.min_healthy_after_start >= m
    # (c) the result: at least max(m, 1) succeeded and nothing was halted
    assert (run.outcome == S) == (run.succeeded >= max(m, 1) and not run.halted)
    # a halt happens only when failures leave no host that could be taken out of service
    if run.halted:
        assert run.failed_when_halted >= n - m
        assert run.skipped
        assert run.outcome == F
    else:
        assert not run.skipped
        assert run.succeeded + run.failed == n
    # every host is either attempted or skipped, once, in order
    assert run.attempted + run.skipped == names(n)
    # with no failures the rollout always succeeds
    if F not in outcomes:
        assert run.outcome == S


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 40), rule=rules)
def test_the_static_plan_covers_every_host_once_in_batches_of_the_batch_size(n, rule):
    plan = planner.make_plan(names(n), rule)
    if not plan.valid:
        assert plan.batches == []
        return
    assert [h for batch in plan.batches for h in batch] == names(n)
    assert all(len(b) == plan.batch_size for b in plan.batches[:-1])
    assert 1 <= len(plan.batches[-1]) <= plan.batch_size
    assert plan.batch_size == n - plan.minimum_healthy
