"""Recording an event's result and moving its host on: one path for the agents' events and the
server's own (health checks, traffic), under the deployment's lock.

Warning: this is the hot path of a large rollout (every event of every host passes here, inside the
deployment's lock); keep its queries per event constant (tests/deployments/test_query_budget.py).
"""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..models import (
    Deployment,
    DeploymentTarget,
    ErrorCode,
    EventStatus,
    HostCommand,
    InstanceGroupState,
    LifecycleEvent,
    TargetStatus,
)
from . import dispatch, steps
from .strategies import strategy_for

_prefetched = threading.local()  # a batch of agent calls: every completing host's events, by target


@contextlib.contextmanager
def prefetched(events_by_target: dict[int, list[LifecycleEvent]]):
    """Within the block, `after_event` takes a host's events from here instead of one query each."""
    _prefetched.events = events_by_target
    try:
        yield
    finally:
        _prefetched.events = None


def _host_events(target: DeploymentTarget, event: LifecycleEvent) -> list[LifecycleEvent]:
    prefetched_events = (getattr(_prefetched, "events", None) or {}).get(target.pk)
    if prefetched_events is not None and any(e is event for e in prefetched_events):
        return prefetched_events
    return list(LifecycleEvent.objects.filter(target=target).order_by("position"))


def parse_time(value) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed


def record_result(
    deployment: Deployment,
    event: LifecycleEvent,
    status: str,
    diagnostics: dict,
    started_at,
    ended_at,
    start: dict[int, dict] | None = None,
) -> HostCommand | None:
    """Record an event's result and move its host on; returns the host's next command if `start`
    asked for it to be issued already started (see `steps.issue`)."""
    target = event.target
    name = target.instance.name
    if event.status == EventStatus.PENDING:
        event.move_to(
            EventStatus.IN_PROGRESS,
            instance_name=name,
            deployment_id=deployment.id,
            started_at=parse_time(started_at),
        )
    event.move_to(
        status,
        instance_name=name,
        deployment_id=deployment.id,
        started_at=parse_time(started_at),
        ended_at=parse_time(ended_at),
        error_code=diagnostics.get("error_code") or "",
        script_name=diagnostics.get("script_name") or "",
        message=diagnostics.get("message") or "",
        log_tail=diagnostics.get("log_tail") or "",
    )
    return after_event(deployment, target, event, start)


def after_event(
    deployment: Deployment,
    target: DeploymentTarget,
    event: LifecycleEvent,
    start: dict[int, dict] | None = None,
) -> HostCommand | None:
    """The host's next event (issued at once: no task round trip between a host's events), or the
    host's end; the deployment's next step is asked for when a host ends."""
    strategy = strategy_for(deployment)
    if event.status in (EventStatus.SUCCEEDED, EventStatus.SKIPPED):
        # One query gives the next event and the host's whole sequence (for the command payload); in
        # a batch of agent calls, one query for every completing host (`prefetched`).
        events = _host_events(target, event)
        nxt = next((e for e in events if e.position > event.position), None)
        if nxt is not None:
            nxt.target = target
            if strategy.holds_before(deployment, target, nxt):
                return None
        stopping = deployment.error_code in (ErrorCode.MANUAL_STOP, ErrorCode.ALARM_ACTIVE)
        if nxt is not None and deployment.status in steps.RUNNING and not stopping:
            # The fast path: no task round trip between a host's events.
            issued = steps.issue(deployment, [nxt], {target.role: [e.name for e in events]}, start)
            return next((c for c in issued if c.started_on_delivery), None)
        if nxt is not None:
            steps.skip_remaining(target)
            target.move_to(
                TargetStatus.UNKNOWN, message=f"Stopped after {event.name}: {deployment.error_code}"
            )
        else:
            target.move_to(TargetStatus.SUCCEEDED)
            if strategy.installs(target):
                remember(deployment, target, TargetStatus.SUCCEEDED)
    else:
        steps.skip_remaining(target)
        target.move_to(TargetStatus.FAILED, message=f"{event.name}: {event.message or event.error_code}")
        remember(deployment, target, TargetStatus.FAILED)
    dispatch.advance(deployment.id)
    return None


def remember(deployment: Deployment, target: DeploymentTarget, outcome: str) -> None:
    """The host's last result in this group (and its installed revision), for ordering and updates."""
    defaults = {"last_status": outcome, "last_deployment": deployment}
    if outcome == TargetStatus.SUCCEEDED:
        defaults["revision"] = deployment.revision
    InstanceGroupState.objects.update_or_create(
        instance_id=target.instance_id, group_id=deployment.deployment_group_id, defaults=defaults
    )
