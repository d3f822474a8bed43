"""The state machines beside the deployment's status: blue/green phases, host commands, bulk moves,
and the choices that name roles, executors, log kinds and step outcomes."""

from __future__ import annotations

import pytest
from factories import deploy, issued, make_app, make_group, make_instance, make_revision, refresh

from deployments import lifecycle, planner
from deployments.models import (
    COMMAND_TRANSITIONS,
    PHASE_TRANSITIONS,
    CommandStatus,
    DeploymentEvent,
    DeploymentTarget,
    EntryKind,
    EventStatus,
    Executor,
    HostCommand,
    IllegalTransition,
    LifecycleEvent,
    Phase,
    Role,
    StepOutcome,
    TargetStatus,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deployment():
    app = make_app()
    make_instance("web-1", role="web")
    return deploy(make_group(app), make_revision(app))


def test_the_tables_name_every_phase_and_command_status():
    assert set(PHASE_TRANSITIONS) == set(Phase.values)
    assert set(COMMAND_TRANSITIONS) == set(CommandStatus.values)
    for table, values in ((PHASE_TRANSITIONS, Phase.values), (COMMAND_TRANSITIONS, CommandStatus.values)):
        assert all(set(moves) <= set(values) for moves in table.values())


def test_a_blue_green_deployment_moves_through_its_phases_in_order(deployment):
    for phase in (Phase.INSTALL, Phase.REROUTE, Phase.BLOCK, Phase.BAKE):
        deployment.move_phase_to(phase)
        assert refresh(deployment).phase == phase


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), Phase.BAKE),  # no phase yet: it cannot skip to the end
        ((Phase.INSTALL,), Phase.BLOCK),  # traffic must move to the replacements first
        ((Phase.INSTALL, Phase.REROUTE, Phase.BLOCK, Phase.BAKE), Phase.INSTALL),  # nothing after bake
        ((Phase.PROVISION,), Phase.REROUTE),
    ],
)
def test_an_illegal_phase_change_raises_and_changes_nothing(deployment, path, illegal):
    for phase in path:
        deployment.move_phase_to(phase)
    before = path[-1] if path else Phase.NONE
    with pytest.raises(IllegalTransition, match=f"phase cannot move from {before} to {illegal}"):
        deployment.move_phase_to(illegal)
    assert refresh(deployment).phase == before


def test_a_command_is_acked_then_completed_and_never_moves_again(deployment):
    (command,) = issued(deployment=deployment)
    command.move_to(CommandStatus.ACKED, timeout_seconds=120)
    command.move_to(CommandStatus.COMPLETED)
    stored = HostCommand.objects.get(pk=command.pk)
    assert (stored.status, stored.timeout_seconds) == (CommandStatus.COMPLETED, 120)
    assert stored.acked_at is not None and stored.completed_at is not None
    for wanted in (CommandStatus.ACKED, CommandStatus.CANCELLED, CommandStatus.ISSUED):
        with pytest.raises(IllegalTransition, match=f"cannot move from Completed to {wanted}"):
            command.move_to(wanted)
    assert HostCommand.objects.get(pk=command.pk).status == CommandStatus.COMPLETED


def test_a_started_command_cannot_be_cancelled(deployment):
    (command,) = issued(deployment=deployment)
    command.move_to(CommandStatus.ACKED)
    with pytest.raises(IllegalTransition, match="cannot move from Acked to Cancelled"):
        command.move_to(CommandStatus.CANCELLED)
    assert HostCommand.objects.get(pk=command.pk).status == CommandStatus.ACKED


def test_a_cancelled_command_cannot_complete(deployment):
    (command,) = issued(deployment=deployment)
    command.move_to(CommandStatus.CANCELLED)
    with pytest.raises(IllegalTransition):
        command.move_to(CommandStatus.COMPLETED)


def test_a_bulk_move_goes_by_the_table_and_refuses_an_illegal_one(deployment):
    target = deployment.targets.get()
    events = LifecycleEvent.objects.filter(target=target)
    pending = events.filter(status=EventStatus.PENDING).count()
    with pytest.raises(IllegalTransition, match="LifecycleEvent rows cannot move from Pending to Pending"):
        events.move_all(EventStatus.PENDING, EventStatus.PENDING)
    with pytest.raises(
        IllegalTransition, match="DeploymentTarget rows cannot move from InProgress to Pending"
    ):
        DeploymentTarget.objects.filter(pk=target.pk).move_all(TargetStatus.IN_PROGRESS, TargetStatus.PENDING)
    assert events.filter(status=EventStatus.PENDING).count() == pending
    assert refresh(deployment).targets.get().status == TargetStatus.IN_PROGRESS
    # A legal move touches only the rows in the state it moves from.
    assert events.move_all(EventStatus.PENDING, EventStatus.SKIPPED) == pending
    assert events.filter(status=EventStatus.SKIPPED).count() == pending


def test_roles_executors_and_log_kinds_are_choices_the_rows_use(deployment):
    target = deployment.targets.get()
    assert target.role == Role.NONE
    assert set(LifecycleEvent.objects.values_list("executor", flat=True)) <= set(Executor.values)
    assert lifecycle.executor_for("AllowTraffic") == Executor.SERVER
    assert lifecycle.executor_for("Install") == Executor.AGENT
    assert set(DeploymentEvent.objects.values_list("kind", flat=True)) <= set(EntryKind.values)


def test_the_planner_ends_a_rollout_only_with_a_step_outcome():
    outcomes = {
        planner.next_step(
            fleet_size=2, minimum_healthy=1, succeeded=s, failed=2 - s, in_progress=0, pending=0
        ).outcome
        for s in (0, 1, 2)
    }
    outcomes.add(
        planner.next_step(
            fleet_size=2, minimum_healthy=1, succeeded=0, failed=0, in_progress=0, pending=2
        ).outcome
    )
    assert outcomes == {StepOutcome.SUCCEEDED, StepOutcome.FAILED, StepOutcome.NONE}
