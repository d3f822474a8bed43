"""The periodic sweep (beat): silent agents, events nobody will finish, waits that ran out, and the
wake-ups a dead worker or a restarted Redis took with it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from ..models import (
    COMMAND_OPEN,
    CommandStatus,
    Deployment,
    DeploymentStatus,
    EventStatus,
    Executor,
    HostCommand,
    Instance,
    LifecycleEvent,
    Phase,
    ScriptErrorCode,
    TargetStatus,
)
from . import agent, dispatch, server_events, steps
from .strategies import strategy_for

log = logging.getLogger(__name__)

# The longest a server-run step (health check, traffic shift) may take before the sweep fails it.
SERVER_EVENT_LIMIT = 3600


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Mark silent agents offline and fail the events nobody is going to finish."""
    now = now or timezone.now()
    offline_cutoff = now - timedelta(seconds=settings.AGENT_OFFLINE_AFTER)
    if _whole_fleet_silent(now, offline_cutoff):
        # Nobody can reach the server, so no agent is to blame yet: fail nothing for AGENT_ISSUE.
        return {"offline": 0, "failed_events": 0, "waits_ended": 0, **_sweep_server_side(now)}
    went_offline = Instance.objects.filter(online=True, last_seen__lt=offline_cutoff).update(online=False)

    failures: list[tuple[HostCommand, str]] = []
    open_commands = HostCommand.objects.filter(status__in=COMMAND_OPEN).select_related("instance")
    pickup_cutoff = now - timedelta(seconds=settings.AGENT_PICKUP_TIMEOUT)
    for command in open_commands.iterator():
        inst = command.instance
        if not inst.online:
            seen = f"{(now - inst.last_seen).total_seconds():.0f} s ago" if inst.last_seen else "never"
            failures.append(
                (
                    command,
                    f"The agent on {inst.name} stopped responding (last seen {seen}). Check that "
                    "fleetdeck-agent is running on the host and can reach the server.",
                )
            )
        elif command.status == CommandStatus.ISSUED and command.issued_at < pickup_cutoff:
            failures.append(
                (
                    command,
                    f"No agent picked up this lifecycle event within {settings.AGENT_PICKUP_TIMEOUT} s. "
                    f"Is fleetdeck-agent running on {inst.name}?",
                )
            )
        elif (
            command.status == CommandStatus.ACKED
            and command.acked_at
            and command.acked_at + timedelta(seconds=command.timeout_seconds + settings.HOOK_TIMEOUT_GRACE)
            < now
        ):
            failures.append(
                (
                    command,
                    f"The agent on {inst.name} did not report this event within its hook timeout "
                    f"({command.timeout_seconds} s) plus {settings.HOOK_TIMEOUT_GRACE} s.",
                )
            )
    for command, message in failures:
        # The server completes the event for the silent agent, through the agents' own path.
        agent.agent_calls(
            command.deployment_id,
            [
                (
                    "complete",
                    command.pk,
                    None,
                    (EventStatus.FAILED, {"error_code": ScriptErrorCode.AGENT_ISSUE, "message": message}),
                )
            ],
        )
    server_side = _sweep_server_side(now)
    return {
        "offline": went_offline,
        "failed_events": len(failures) + server_side["failed_events"],
        "waits_ended": server_side["waits_ended"],
    }


def _whole_fleet_silent(now: datetime, offline_cutoff: datetime) -> bool:
    """Every online agent (two or more) went quiet, and not long ago: suspect the server, not the hosts.

    A web restart or a broken proxy silences the whole fleet at once; dead hosts go one by one. For up
    to FLEETDECK_FLEET_SILENCE_GRACE seconds past the offline limit the sweep blames nobody; after that
    (or with a single agent, where the two cannot be told apart) it goes on as usual.
    """
    online = Instance.objects.filter(online=True, deregistered_at__isnull=True, last_seen__isnull=False)
    seen = online.aggregate(freshest=Max("last_seen"), n=Count("id"))
    if seen["n"] < 2 or seen["freshest"] >= offline_cutoff:
        return False
    held_until = seen["freshest"] + timedelta(
        seconds=settings.AGENT_OFFLINE_AFTER + settings.FLEET_SILENCE_GRACE
    )
    if now >= held_until:
        return False
    log.warning(
        "No agent has reached the server for %.0f s (%d agents): the web tier or the network in front "
        "of it is the likelier cause, so AGENT_ISSUE is held back until %s",
        (now - seen["freshest"]).total_seconds(),
        seen["n"],
        held_until.isoformat(timespec="seconds"),
    )
    return True


def _sweep_server_side(now: datetime) -> dict[str, int]:
    """The sweep's steps that do not depend on agents: stale server events, provisioning, waits."""
    # A server event whose worker died: fail it once its own time limit and the grace have passed.
    stale = LifecycleEvent.objects.filter(
        executor=Executor.SERVER,
        status=EventStatus.IN_PROGRESS,
        started_at__lt=now - timedelta(seconds=SERVER_EVENT_LIMIT + settings.HOOK_TIMEOUT_GRACE),
    ).values_list("pk", flat=True)
    for event_id in list(stale):
        server_events.finish_server_event(
            event_id,
            EventStatus.FAILED,
            {
                "error_code": ScriptErrorCode.UNKNOWN_ERROR,
                "message": "The server did not finish this step in time.",
            },
        )
    for deployment_id in Deployment.objects.filter(
        status=DeploymentStatus.IN_PROGRESS, phase=Phase.PROVISION
    ).values_list("pk", flat=True):
        dispatch.send(dispatch.CHECK_PROVISIONING, deployment_id)
    waits = 0
    for deployment_id in Deployment.objects.filter(
        status__in=(DeploymentStatus.READY, DeploymentStatus.BAKING), wait_until__lt=now
    ).values_list("pk", flat=True):
        waits += _end_wait(deployment_id, now)
    return {"failed_events": len(stale), "waits_ended": waits}


def _end_wait(deployment_id: str, now: datetime) -> int:
    """A wait is over (blue/green: Ready timed out, or Baking is done): the strategy moves on."""
    with transaction.atomic():
        deployment = steps.lock(deployment_id)
        if deployment.wait_until is None or deployment.wait_until >= now:
            return 0
        return int(strategy_for(deployment).end_wait(deployment, now))


def re_advance_stalled() -> int:
    """Re-send the wake-ups a dead worker or a restarted Redis took with it.

    A worker killed inside `advance` holds its message unacknowledged until Redis's visibility
    timeout (an hour), and a Redis restart loses queued messages. A running deployment with no host
    in progress waits for nobody else, and a queued one may wait for a `start_next_queued` that is
    gone; both tasks are idempotent, so sending them again is harmless.
    """
    stalled = list(
        Deployment.objects.filter(status=DeploymentStatus.IN_PROGRESS)
        .exclude(phase=Phase.PROVISION)
        .exclude(targets__status=TargetStatus.IN_PROGRESS)
        .values_list("pk", flat=True)
    )
    for deployment_id in stalled:
        dispatch.send(dispatch.ADVANCE, deployment_id)
    queued_groups = set(
        Deployment.objects.filter(status=DeploymentStatus.QUEUED).values_list(
            "deployment_group_id", flat=True
        )
    )
    for group_id in queued_groups:
        dispatch.send(dispatch.START_NEXT_QUEUED, group_id)
    return len(stalled)
