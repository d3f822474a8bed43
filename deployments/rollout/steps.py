"""The steps both strategies are built from: lock, start targets, issue events, skip pending, finish.

Every function that changes a deployment first takes its row lock (`lock`), then touches targets,
events and commands. That single lock order keeps concurrent runs of `advance`, agent completions and
the sweep from deadlocking, and makes each of them idempotent: whatever runs second sees what the
first one committed. The functions here expect the caller to hold the deployment's lock.
"""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from .. import eventlog, lifecycle, realtime, writebehind
from ..models import (
    CommandStatus,
    Deployment,
    DeploymentStatus,
    DeploymentTarget,
    EntryKind,
    ErrorCode,
    EventStatus,
    Executor,
    HostCommand,
    LifecycleEvent,
    Role,
    ScriptErrorCode,
    TargetStatus,
)
from . import dispatch, rollback

RUNNING = (DeploymentStatus.IN_PROGRESS, DeploymentStatus.BAKING, DeploymentStatus.READY)
HEALTH_MESSAGE = (
    "The overall deployment failed because too many individual instances failed deployment, too few "
    "healthy instances are available for deployment, or some instances in your deployment group are "
    "experiencing problems."
)


def lock(deployment_id: str) -> Deployment:
    """The deployment, locked for the rest of the transaction: the first lock every change takes."""
    return (
        Deployment.objects.select_for_update(of=("self",))
        .select_related("deployment_group", "application", "revision", "deployment_config")
        .get(pk=deployment_id)
    )


def start_next_queued_after_commit(group_id: int) -> None:
    dispatch.after_commit(dispatch.START_NEXT_QUEUED, group_id)


def target_counts(deployment: Deployment, role: str | None = None) -> Counter:
    """How many of the deployment's targets (of one role, or all) are in each status: one query."""
    query = DeploymentTarget.objects.filter(deployment=deployment)
    if role is not None:
        query = query.filter(role=role)
    rows = query.values("status").annotate(n=Count("id")).order_by()
    return Counter({row["status"]: row["n"] for row in rows})


def health_failure(deployment: Deployment, reason: str) -> tuple[str, str]:
    """The error code and message of a deployment that lost on the minimum healthy hosts rule."""
    failed = list(
        LifecycleEvent.objects.filter(target__deployment=deployment, status=EventStatus.FAILED)
        .select_related("target__instance")
        .order_by("target__position")[:5]
    )
    details = "; ".join(f"{e.target.instance.name}: {e.name} {e.error_code or 'failed'}" for e in failed)
    code = ErrorCode.HEALTH_CONSTRAINTS
    if any(e.error_code == ScriptErrorCode.AGENT_ISSUE for e in failed):
        code = ErrorCode.AGENT_ISSUE
    return code, f"{HEALTH_MESSAGE} {reason}." + (f" Failed: {details}." if details else "")


def finish(deployment: Deployment) -> None:
    """End a halting deployment: Stopped (stop, alarm, timeout) or Failed; then the group's next one,
    and a rollback if the group asks for one."""
    status = (
        DeploymentStatus.STOPPED
        if deployment.error_code in (ErrorCode.MANUAL_STOP, ErrorCode.ALARM_ACTIVE, ErrorCode.TIMEOUT)
        else DeploymentStatus.FAILED
    )
    deployment.move_to(status, message=deployment.error_message)
    start_next_queued_after_commit(deployment.deployment_group_id)
    rollback.maybe_roll_back(deployment)


def skip_pending(deployment: Deployment) -> None:
    """Hosts not started yet are not attempted: they and their events are Skipped."""
    targets = list(
        DeploymentTarget.objects.filter(deployment=deployment, status=TargetStatus.PENDING).select_related(
            "instance"
        )
    )
    if not targets:
        return
    now = timezone.now()
    LifecycleEvent.objects.filter(target__in=targets).move_all(
        EventStatus.PENDING, EventStatus.SKIPPED, ended_at=now
    )
    DeploymentTarget.objects.filter(pk__in=[t.pk for t in targets]).move_all(
        TargetStatus.PENDING,
        TargetStatus.SKIPPED,
        ended_at=now,
        message="Not attempted: the deployment was halted",
    )
    eventlog.append(
        deployment.id,
        [
            eventlog.entry(EntryKind.TARGET, instance=t.instance.name, status=TargetStatus.SKIPPED)
            for t in targets
        ],
    )


def skip_remaining(target: DeploymentTarget) -> None:
    """The host's events that have not run are Skipped (it failed or was stopped)."""
    writebehind.flush()  # the statuses this UPDATE selects on must be the current ones
    LifecycleEvent.objects.filter(target=target).move_all(
        EventStatus.PENDING, EventStatus.SKIPPED, ended_at=timezone.now()
    )


def start_targets(deployment: Deployment, count: int, role: str = Role.NONE) -> None:
    """Start the next `count` pending hosts of a role, in rollout order: issue their first events."""
    targets = list(
        DeploymentTarget.objects.filter(deployment=deployment, status=TargetStatus.PENDING, role=role)
        .select_related("instance")
        .order_by("position")[:count]
    )
    if not targets:
        return
    DeploymentTarget.objects.filter(pk__in=[t.pk for t in targets]).move_all(
        TargetStatus.PENDING, TargetStatus.IN_PROGRESS, started_at=timezone.now()
    )
    eventlog.append(
        deployment.id,
        [
            eventlog.entry(EntryKind.TARGET, instance=t.instance.name, status=TargetStatus.IN_PROGRESS)
            for t in targets
        ],
    )
    first_events = list(
        LifecycleEvent.objects.filter(target__in=targets, position=0).select_related("target__instance")
    )
    issue(deployment, first_events)


def payload(deployment: Deployment, event: LifecycleEvent, names: list[str]) -> dict:
    """What the agent receives for one event (never a secret: see docs/security.md)."""
    revision = deployment.revision
    group = deployment.deployment_group
    agent_events = [n for n in names if lifecycle.executor_for(n) == Executor.AGENT]
    return {
        "deployment_id": deployment.id,
        "lifecycle_event": event.name,
        "application_name": deployment.application.name,
        "deployment_group_name": group.name,
        "deployment_group_id": str(group.group_id),
        "deployment_creator": deployment.creator,
        "revision": {
            "id": revision.pk,
            "source": revision.source,
            "bundle_type": revision.bundle_type,
            "url": f"/agent/v1/bundles/{revision.pk}/",
            "sha256": revision.sha256 or None,
            "env": revision.hook_environment(),
        },
        "file_exists_behavior": deployment.file_exists_behavior,
        "ignore_application_stop_failures": deployment.ignore_application_stop_failures,
        # Only a host that installs this revision records it as its last successful one.
        "mark_successful": "Install" in names and event.name == agent_events[-1],
    }


def issue(
    deployment: Deployment,
    events: list[LifecycleEvent],
    sequences: dict[str, list[str]] | None = None,
    start: dict[int, dict] | None = None,
) -> list[HostCommand]:
    """Create one command per agent event (the OneToOne on lifecycle_event refuses a second one);
    hand server events (health checks, traffic) to a worker.

    `start` maps an instance id to its agent's hook timeouts by event name: that instance's command
    is created already started (acked), because it goes back in the answer to the agent's completion
    of its previous event and the agent runs it at once. That saves the agent an ack round trip per
    event, and the host needs no wake-up."""
    if not events:
        return []
    start = start or {}
    # Every host of one role runs the same sequence, snapshotted at start: one look-up per role.
    sequences = dict(sequences or {})
    for event in events:
        if event.target.role not in sequences:
            sequences[event.target.role] = list(
                LifecycleEvent.objects.filter(target_id=event.target_id)
                .order_by("position")
                .values_list("name", flat=True)
            )
    now = timezone.now()
    commands = []
    for event in events:
        if event.executor != Executor.AGENT:
            event.move_to(
                EventStatus.IN_PROGRESS, instance_name=event.target.instance.name, deployment_id=deployment.id
            )
            dispatch.after_commit(dispatch.RUN_SERVER_EVENT, event.pk)
    for event in events:
        if event.executor != Executor.AGENT:
            continue
        command = HostCommand(
            instance_id=event.target.instance_id,
            deployment=deployment,
            lifecycle_event=event,
            payload=payload(deployment, event, sequences[event.target.role]),
            issued_at=now,
        )
        timeouts = start.get(event.target.instance_id)
        if timeouts is not None:
            # Created started: it goes back in the answer to the host's completion (no ack, no wake-up).
            command.status, command.acked_at, command.started_on_delivery = CommandStatus.ACKED, now, True
            if timeouts.get(event.name):
                command.timeout_seconds = timeouts[event.name]
            event.move_to(
                EventStatus.IN_PROGRESS, instance_name=event.target.instance.name, deployment_id=deployment.id
            )
        commands.append(command)
    writebehind.insert(commands)
    instance_ids = [c.instance_id for c in commands if not c.started_on_delivery]
    if instance_ids:
        transaction.on_commit(lambda: realtime.wake_agents(instance_ids))
    return commands
