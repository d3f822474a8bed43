"""The orchestrator: creating, advancing, stopping and sweeping deployments.

Every function that changes a deployment first takes its row lock (`select_for_update`), then
touches targets, events and commands. That single lock order keeps concurrent runs of
`advance`, agent completions and the sweep from deadlocking, and makes each of them idempotent:
whatever runs second sees what the first one committed.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import bluegreen, eventlog, fetching, healthcheck, lifecycle, planner, realtime, retention, writebehind
from .models import (
    COMMAND_OPEN,
    CommandStatus,
    Creator,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    DeploymentStatus,
    DeploymentStyle,
    DeploymentTarget,
    ErrorCode,
    EventStatus,
    HostCommand,
    Instance,
    InstanceGroupState,
    LifecycleEvent,
    Revision,
    ScriptErrorCode,
    TargetStatus,
)

log = logging.getLogger(__name__)

RUNNING = (DeploymentStatus.IN_PROGRESS, DeploymentStatus.BAKING, DeploymentStatus.READY)
# The longest a server-run step (health check, traffic shift) may take before the sweep fails it.
SERVER_EVENT_LIMIT = 3600
HEALTH_MESSAGE = (
    "The overall deployment failed because too many individual instances failed deployment, too few "
    "healthy instances are available for deployment, or some instances in your deployment group are "
    "experiencing problems."
)
RESTART_MESSAGE = "Failing in-progress lifecycle event after an agent restart"
_batch = threading.local()  # agent_calls: the deployments its transaction already asked to advance


class DeploymentError(Exception):
    """A request the engine refuses, with a message meant for the user."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None):
        super().__init__(message)
        self.message, self.code, self.field = message, code, field


def _enqueue_advance(deployment_id: str) -> None:
    from .tasks import advance_deployment

    batch = getattr(_batch, "advances", None)
    if batch is not None:
        # A batch of agent calls that ends many hosts asks for one advance, not one per host
        # (advance looks at the whole deployment anyway).
        if deployment_id in batch:
            return
        batch.add(deployment_id)
    transaction.on_commit(lambda: advance_deployment.delay(deployment_id))


def _enqueue_next_queued(group_id: int) -> None:
    from .tasks import start_next_queued

    transaction.on_commit(lambda: start_next_queued.delay(group_id))


# --- targets and plans -----------------------------------------------------------------------


def matching_instances(group: DeploymentGroup) -> list[Instance]:
    """Registered hosts of the group's project whose tags match. Other projects' hosts never do."""
    project_id = group.application.project_id
    instances = Instance.objects.filter(deregistered_at__isnull=True, project_id=project_id).only(
        "id", "name", "tags", "online", "last_seen"
    )
    return [i for i in instances if group.matches(i.tags or {})]


def candidates_for(group: DeploymentGroup, instances: list[Instance]) -> list[planner.Candidate]:
    states = {
        s.instance_id: s
        for s in InstanceGroupState.objects.filter(group=group, instance__in=[i.pk for i in instances])
    }
    out = []
    for inst in instances:
        state = states.get(inst.pk)
        out.append(
            planner.Candidate(
                name=inst.name,
                key=inst.pk,
                last_status=state.last_status if state else "",
                installed_revision=state.revision_id if state else None,
            )
        )
    return out


def preview_plan(group: DeploymentGroup, config: DeploymentConfig, revision: Revision | None) -> planner.Plan:
    ordered = planner.order_candidates(
        candidates_for(group, matching_instances(group)), revision.pk if revision else None
    )
    return planner.make_plan([c.name for c in ordered], config.health_rule())


def deployment_plan(deployment: Deployment) -> planner.Plan:
    """The plan of an existing deployment: its snapshotted targets, or a live preview if not started."""
    targets = list(deployment.targets.select_related("instance").order_by("position"))
    if not targets and deployment.is_terminal:
        # It ended before starting (no instances, invalid health rule, stopped while queued).
        return planner.Plan(
            valid=False,
            reason=deployment.error_message,
            error_code=deployment.error_code,
            fleet_size=0,
            minimum_healthy=deployment.minimum_healthy,
            batch_size=0,
            arithmetic="",
        )
    if not targets:
        return preview_plan(deployment.deployment_group, deployment.deployment_config, deployment.revision)
    rule = deployment.deployment_config.health_rule()
    plan = planner.make_plan([t.instance.name for t in targets], rule)
    plan.minimum_healthy = deployment.minimum_healthy
    return plan


def event_names(deployment: Deployment) -> tuple[str, ...]:
    group = deployment.deployment_group
    return lifecycle.in_place_events(group.with_traffic_control, bool((group.health_check or {}).get("url")))


# --- creation --------------------------------------------------------------------------------


def create_deployment(
    *,
    group: DeploymentGroup,
    revision: Revision,
    config: DeploymentConfig | None = None,
    creator: str = Creator.USER,
    user=None,
    description: str = "",
    file_exists_behavior: str | None = None,
    ignore_application_stop_failures: bool | None = None,
    rollback_of: Deployment | None = None,
    auto_rollback_events: list[str] | None = None,
    instance_ids: list[int] | None = None,
) -> Deployment:
    if revision.application_id != group.application_id:
        raise DeploymentError(
            f"Revision {revision.pk} belongs to another application.",
            code="REVISION_MISSING",
            field="revision",
        )
    if config is not None and not config.builtin and config.project_id != group.application.project_id:
        # A custom config is its project's own; the API never offers another's, and nor does this.
        raise DeploymentError(
            f"No deployment config named {config.name} in this project.", field="deployment_config"
        )
    with transaction.atomic():
        # The group lock makes "is another deployment running here?" and the start one decision.
        group = DeploymentGroup.objects.select_for_update().select_related("application").get(pk=group.pk)
        # The revision's lock orders this against retention pruning its bundle (retention.prune_bundle):
        # either the bundle is already gone and we refuse, or the cleanup sees this deployment and keeps it.
        revision = Revision.objects.select_for_update(no_key=True).get(pk=revision.pk)
        if revision.bundle_pruned_at is not None:
            raise DeploymentError(
                retention.bundle_problem(revision), code=ErrorCode.REVISION_MISSING, field="revision"
            )
        config = config or group.deployment_config
        deployment = Deployment.objects.create(
            application=group.application,
            deployment_group=group,
            revision=revision,
            deployment_config=config,
            creator=creator,
            created_by=user if user is not None and user.is_authenticated else None,
            description=description,
            file_exists_behavior=file_exists_behavior or group.file_exists_behavior,
            ignore_application_stop_failures=(
                group.ignore_application_stop_failures
                if ignore_application_stop_failures is None
                else ignore_application_stop_failures
            ),
            rollback_of=rollback_of,
            auto_rollback_events=auto_rollback_events,
            instance_ids=instance_ids,
        )
        eventlog.append(
            deployment.id,
            [
                eventlog.entry(
                    "deployment",
                    status=DeploymentStatus.CREATED,
                    message=f"Created by {user.get_username() if user else creator}",
                    revision=revision.pk,
                    config=config.name,
                )
            ],
        )
        blocker = (
            Deployment.objects.filter(deployment_group=group, status__in=(*RUNNING, DeploymentStatus.QUEUED))
            .exclude(pk=deployment.pk)
            .order_by("created_at")
            .first()
        )
        if blocker is not None:
            deployment.move_to(
                DeploymentStatus.QUEUED,
                message=f"Waiting for {blocker.id} to finish in this deployment group",
            )
        else:
            _start(deployment)
    return deployment


def _start(deployment: Deployment) -> None:
    """Snapshot the targets, plan them and go InProgress. Caller holds the group lock."""
    group = deployment.deployment_group
    missing = retention.bundle_problem(deployment.revision)
    if missing:
        # Every host would fail DownloadBundle: fail now, touching no host, with the code that says why.
        deployment.move_to(DeploymentStatus.FAILED, error_code=ErrorCode.REVISION_MISSING, message=missing)
        _enqueue_next_queued(group.pk)
        return
    unusable = healthcheck.group_problem(group)
    if unusable:
        deployment.move_to(
            DeploymentStatus.FAILED, error_code=ErrorCode.HEALTH_CONSTRAINTS_INVALID, message=unusable
        )
        _enqueue_next_queued(group.pk)
        return
    if not fetching.ready_to_start(deployment):
        return  # failed (bundle over the size limit), or queued until the server holds its revision
    instances = matching_instances(group)
    if group.deployment_style == DeploymentStyle.BLUE_GREEN:
        _start_blue_green(deployment, instances)
        return
    if deployment.instance_ids is not None:
        wanted = set(deployment.instance_ids)
        instances = [i for i in instances if i.pk in wanted]
    ordered = planner.order_candidates(candidates_for(group, instances), deployment.revision_id)
    rule = deployment.deployment_config.health_rule()
    plan = planner.make_plan([c.name for c in ordered], rule)
    if not plan.valid:
        deployment.move_to(DeploymentStatus.FAILED, error_code=plan.error_code, message=plan.reason)
        _enqueue_next_queued(group.pk)
        return
    names = event_names(deployment)
    targets = DeploymentTarget.objects.bulk_create(
        [
            DeploymentTarget(
                deployment=deployment, instance_id=c.key, position=index, batch=index // plan.batch_size
            )
            for index, c in enumerate(ordered)
        ]
    )
    LifecycleEvent.objects.bulk_create(
        [
            LifecycleEvent(target=t, name=name, position=pos, executor=lifecycle.executor_for(name))
            for t in targets
            for pos, name in enumerate(names)
        ]
    )
    deployment.minimum_healthy = plan.minimum_healthy
    deployment.save(update_fields=["minimum_healthy"])
    deployment.move_to(
        DeploymentStatus.IN_PROGRESS,
        message=f"{plan.fleet_size} instances, {plan.arithmetic}, {len(plan.batches)} batches",
    )
    _enqueue_advance(deployment.id)


def _start_blue_green(deployment: Deployment, originals: list[Instance]) -> None:
    group = deployment.deployment_group
    failed = deployment.rollback_of
    if failed is not None and failed.phase in bluegreen.TRAFFIC_MOVED:
        bluegreen.start_rollback(deployment, failed, sys.modules[__name__])
        return
    if bluegreen.config_of(group)["replacement"].get("source") == "asg_copy":
        # The replacements do not exist yet: originals now, replacements once the copy's agents register.
        DeploymentTarget.objects.bulk_create(
            [
                DeploymentTarget(
                    deployment=deployment, instance_id=inst.pk, position=i, role=bluegreen.ORIGINAL
                )
                for i, inst in enumerate(sorted(originals, key=lambda i: i.name))
            ]
        )
        deployment.phase = bluegreen.PROVISION
        deployment.save(update_fields=["phase"])
        deployment.move_to(
            DeploymentStatus.IN_PROGRESS, message="Copying the Auto Scaling group for the replacements"
        )
        from .tasks import provision_replacements

        transaction.on_commit(lambda: provision_replacements.delay(deployment.id))
        return
    _plan_replacements(deployment, bluegreen.fleets(group, originals), originals)


def provisioned(deployment_id: str, replacements: list[Instance]) -> bool:
    """The copy's agents have registered: plan them as the replacement fleet and start installing."""
    with transaction.atomic():
        deployment = _lock(deployment_id)
        if deployment.phase != bluegreen.PROVISION or deployment.is_terminal:
            return False
        originals = [t.instance for t in deployment.targets.select_related("instance")]
        deployment.targets.all().delete()
        _plan_replacements(deployment, replacements, originals)
        return True


def _plan_replacements(
    deployment: Deployment, replacements: list[Instance], originals: list[Instance]
) -> None:
    group = deployment.deployment_group
    ordered = planner.order_candidates(candidates_for(group, replacements), deployment.revision_id)
    plan = planner.make_plan([c.name for c in ordered], deployment.deployment_config.health_rule())
    if not plan.valid:
        reason = plan.reason
        if plan.error_code == "NO_INSTANCES":
            reason = "No replacement instances match the blue/green replacement filters. " + reason
        deployment.move_to(DeploymentStatus.FAILED, error_code=plan.error_code, message=reason)
        _enqueue_next_queued(group.pk)
        return
    started = deployment.status == DeploymentStatus.IN_PROGRESS
    rows = [
        DeploymentTarget(
            deployment=deployment,
            instance_id=c.key,
            position=index,
            batch=index // plan.batch_size,
            role=bluegreen.REPLACEMENT,
        )
        for index, c in enumerate(ordered)
    ]
    last_batch = len(plan.batches)
    rows += [
        DeploymentTarget(
            deployment=deployment,
            instance_id=inst.pk,
            position=len(ordered) + index,
            batch=last_batch,
            role=bluegreen.ORIGINAL,
        )
        for index, inst in enumerate(sorted(originals, key=lambda i: i.name))
    ]
    targets = DeploymentTarget.objects.bulk_create(rows)
    sequences = {
        bluegreen.REPLACEMENT: bluegreen.replacement_events(group),
        bluegreen.ORIGINAL: lifecycle.BLOCK_EVENTS,
    }
    LifecycleEvent.objects.bulk_create(
        [
            LifecycleEvent(target=t, name=name, position=pos, executor=lifecycle.executor_for(name))
            for t in targets
            for pos, name in enumerate(sequences[t.role])
        ]
    )
    deployment.minimum_healthy = plan.minimum_healthy
    deployment.phase = bluegreen.INSTALL
    deployment.save(update_fields=["minimum_healthy", "phase"])
    message = (
        f"Blue/green: {plan.fleet_size} replacement(s) beside {len(originals)} original(s), {plan.arithmetic}"
    )
    if started:
        eventlog.append(
            deployment.id, [eventlog.entry("deployment", status=deployment.status, message=message)]
        )
    else:
        deployment.move_to(DeploymentStatus.IN_PROGRESS, message=message)
    _enqueue_advance(deployment.id)


def continue_deployment(deployment_id: str) -> bool:
    """A user's "reroute traffic now" for a blue/green deployment waiting in Ready."""
    with transaction.atomic():
        deployment = _lock(deployment_id)
        if deployment.status != DeploymentStatus.READY or deployment.is_halting:
            return False
        deployment.move_to(DeploymentStatus.IN_PROGRESS, message="Rerouting traffic on request")
        bluegreen.reroute(deployment, sys.modules[__name__])
        return True


def start_next_queued(group_id: int) -> str | None:
    with transaction.atomic():
        group = DeploymentGroup.objects.select_for_update().filter(pk=group_id).first()
        if group is None or Deployment.objects.filter(deployment_group=group, status__in=RUNNING).exists():
            return None
        nxt = (
            Deployment.objects.select_for_update()
            .filter(deployment_group=group, status=DeploymentStatus.QUEUED)
            .order_by("created_at")
            .first()
        )
        if nxt is None:
            return None
        _start(nxt)
        return nxt.id


# --- advancing -------------------------------------------------------------------------------


def _lock(deployment_id: str) -> Deployment:
    return (
        Deployment.objects.select_for_update(of=("self",))
        .select_related("deployment_group", "application", "revision", "deployment_config")
        .get(pk=deployment_id)
    )


def advance(deployment_id: str) -> None:
    """Take the next step: start hosts, or finish. Safe to run twice, late or concurrently."""
    with transaction.atomic():
        try:
            deployment = _lock(deployment_id)
        except Deployment.DoesNotExist:
            return
        if deployment.is_halting and deployment.status in (DeploymentStatus.READY, DeploymentStatus.BAKING):
            _finish(deployment)  # stopped while waiting: nothing is running
            return
        if deployment.status != DeploymentStatus.IN_PROGRESS:
            return
        if deployment.phase and not deployment.is_halting:
            bluegreen.advance(deployment, sys.modules[__name__])
            return
        counts = Counter(
            {
                row["status"]: row["n"]
                for row in DeploymentTarget.objects.filter(deployment=deployment)
                .values("status")
                .annotate(n=Count("id"))
                .order_by()
            }
        )
        pending = counts[TargetStatus.PENDING]
        in_progress = counts[TargetStatus.IN_PROGRESS]
        if deployment.is_halting:
            _skip_pending_targets(deployment)
            if in_progress == 0:
                _finish(deployment)
            return
        step = planner.next_step(
            fleet_size=sum(counts.values()),
            minimum_healthy=deployment.minimum_healthy,
            succeeded=counts[TargetStatus.SUCCEEDED],
            failed=counts[TargetStatus.FAILED] + counts[TargetStatus.UNKNOWN],
            in_progress=in_progress,
            pending=pending,
        )
        if step.outcome == "Succeeded":
            deployment.move_to(DeploymentStatus.SUCCEEDED)
            _enqueue_next_queued(deployment.deployment_group_id)
        elif step.outcome == "Failed":
            deployment.mark_halting(*_health_failure(deployment, step.reason))
            _finish(deployment)
        elif step.halt:
            deployment.mark_halting(*_health_failure(deployment, step.reason))
            _skip_pending_targets(deployment)
            if in_progress == 0:
                _finish(deployment)
        elif step.start:
            _start_targets(deployment, step.start)


def _health_failure(deployment: Deployment, reason: str) -> tuple[str, str]:
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


def _finish(deployment: Deployment) -> None:
    status = (
        DeploymentStatus.STOPPED
        if deployment.error_code in (ErrorCode.MANUAL_STOP, ErrorCode.ALARM_ACTIVE, ErrorCode.TIMEOUT)
        else DeploymentStatus.FAILED
    )
    deployment.move_to(status, message=deployment.error_message)
    _enqueue_next_queued(deployment.deployment_group_id)
    from .rollback import maybe_roll_back

    maybe_roll_back(deployment)


def _skip_pending_targets(deployment: Deployment) -> None:
    targets = list(
        DeploymentTarget.objects.filter(deployment=deployment, status=TargetStatus.PENDING).select_related(
            "instance"
        )
    )
    if not targets:
        return
    now = timezone.now()
    LifecycleEvent.objects.filter(target__in=targets, status=EventStatus.PENDING).update(
        status=EventStatus.SKIPPED, ended_at=now
    )
    DeploymentTarget.objects.filter(pk__in=[t.pk for t in targets]).update(
        status=TargetStatus.SKIPPED, ended_at=now, message="Not attempted: the deployment was halted"
    )
    eventlog.append(
        deployment.id,
        [eventlog.entry("target", instance=t.instance.name, status=TargetStatus.SKIPPED) for t in targets],
    )


def _start_targets(deployment: Deployment, count: int, role: str = "") -> None:
    targets = list(
        DeploymentTarget.objects.filter(deployment=deployment, status=TargetStatus.PENDING, role=role)
        .select_related("instance")
        .order_by("position")[:count]
    )
    if not targets:
        return
    now = timezone.now()
    DeploymentTarget.objects.filter(pk__in=[t.pk for t in targets], status=TargetStatus.PENDING).update(
        status=TargetStatus.IN_PROGRESS, started_at=now
    )
    eventlog.append(
        deployment.id,
        [
            eventlog.entry("target", instance=t.instance.name, status=TargetStatus.IN_PROGRESS)
            for t in targets
        ],
    )
    first_events = list(
        LifecycleEvent.objects.filter(target__in=targets, position=0).select_related("target__instance")
    )
    _issue(deployment, first_events)


# --- commands --------------------------------------------------------------------------------


def _payload(deployment: Deployment, event: LifecycleEvent, names: list[str]) -> dict:
    revision = deployment.revision
    group = deployment.deployment_group
    agent_events = [n for n in names if lifecycle.executor_for(n) == "agent"]
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


def _issue(
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
    server_events = [e for e in events if e.executor != "agent"]
    for event in server_events:
        event.move_to(
            EventStatus.IN_PROGRESS, instance_name=event.target.instance.name, deployment_id=deployment.id
        )
        transaction.on_commit(lambda event_id=event.pk: _enqueue_server_event(event_id))
    for event in events:
        if event.executor != "agent":
            continue
        command = HostCommand(
            instance_id=event.target.instance_id,
            deployment=deployment,
            lifecycle_event=event,
            payload=_payload(deployment, event, sequences[event.target.role]),
            issued_at=now,
        )
        timeouts = start.get(event.target.instance_id)
        if timeouts is not None:
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


def _enqueue_server_event(event_id: int) -> None:
    from .tasks import run_server_event

    run_server_event.delay(event_id)


def _lock_command(command_id, instance: Instance | None) -> tuple[Deployment, HostCommand] | None:
    """Lock the deployment, then the command. Returns None if the command is not this instance's."""
    deployment_id = command_deployment(command_id, instance)
    if deployment_id is None:
        return None
    deployment = _lock(deployment_id)
    return deployment, _locked_commands(deployment, [command_id])[str(command_id)]


def command_deployment(command_id, instance: Instance | None) -> str | None:
    """The deployment a command belongs to (None if it is not this instance's). Takes no lock."""
    query = HostCommand.objects.filter(pk=command_id)
    if instance is not None:
        query = query.filter(instance=instance)
    return query.values_list("deployment_id", flat=True).first()


def _locked_commands(
    deployment: Deployment, command_ids, instances: dict[int, Instance] | None = None
) -> dict[str, HostCommand]:
    """Lock commands of a locked deployment, in one query and in primary-key order; keyed by str(id).

    With `instances` (by id; the callers', already loaded) their commands' targets get those objects
    instead of a join that builds each instance again; any other command's instance loads on use."""
    related = "lifecycle_event__target" if instances is not None else "lifecycle_event__target__instance"
    commands = (
        HostCommand.objects.select_for_update(of=("self",))
        .select_related(related)
        .filter(pk__in=set(command_ids), deployment_id=deployment.id)
        .order_by("pk")
    )
    out = {str(command.pk): command for command in commands}
    for command in out.values() if instances is not None else ():
        if command.instance_id in instances:
            command.lifecycle_event.target.instance = instances[command.instance_id]
    return out


def ack_command(command_id, instance: Instance, timeout_seconds: int | None) -> HostCommand | None:
    with transaction.atomic():
        locked = _lock_command(command_id, instance)
        if locked is None:
            return None
        return _ack(*locked, instance, timeout_seconds)


def _ack(deployment: Deployment, command: HostCommand, instance: Instance, timeout_seconds) -> HostCommand:
    if command.status != CommandStatus.ISSUED:
        return command
    command.status = CommandStatus.ACKED
    command.acked_at = timezone.now()
    if timeout_seconds:
        command.timeout_seconds = timeout_seconds
    writebehind.save(command, ["status", "acked_at", "timeout_seconds"])
    event = command.lifecycle_event
    if event.status == EventStatus.PENDING:
        event.move_to(EventStatus.IN_PROGRESS, instance_name=instance.name, deployment_id=deployment.id)
    return command


def record_logs(command_id, instance: Instance, lines: list[dict]) -> int | None:
    """Store hook output; lines whose seq was stored already are ignored, so resends are harmless."""
    with transaction.atomic():
        locked = _lock_command(command_id, instance)
        if locked is None:
            return None
        return _logs(*locked, instance, lines)


def _logs(deployment: Deployment, command: HostCommand, instance: Instance, lines: list[dict]) -> int:
    return _store_lines(deployment, command, instance.name, lines)


def _store_lines(deployment: Deployment, command: HostCommand, instance_name: str, lines: list[dict]) -> int:
    unique = {ln["seq"]: ln for ln in lines if ln["seq"] > command.log_seq}
    fresh = [unique[seq] for seq in sorted(unique)]
    if not fresh:
        return 0
    event = command.lifecycle_event
    eventlog.append(
        deployment.id,
        [
            eventlog.entry(
                "log",
                instance=instance_name,
                event=event.name,
                message=ln["text"],
                stream=ln.get("stream", "stdout"),
                script=ln.get("script", ""),
                ts=ln.get("ts", ""),
            )
            for ln in fresh
        ],
    )
    command.log_seq = fresh[-1]["seq"]
    writebehind.save(command, ["log_seq"])
    return len(fresh)


def _parse_time(value) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed


def complete_command(
    command_id,
    instance: Instance | None,
    status: str,
    diagnostics: dict,
    started_at=None,
    ended_at=None,
    lines: list[dict] | None = None,
) -> HostCommand | None:
    """Record an event's result and move its host on. Completing twice is harmless: the first wins."""
    with transaction.atomic():
        locked = _lock_command(command_id, instance)
        if locked is None:
            return None
        return _complete(*locked, instance, status, diagnostics, started_at, ended_at, lines)


def _complete(
    deployment: Deployment,
    command: HostCommand,
    instance: Instance | None,
    status: str,
    diagnostics: dict,
    started_at=None,
    ended_at=None,
    lines: list[dict] | None = None,
    start_next: dict | None = None,
) -> HostCommand:
    """`start_next` (the agent's hook timeouts by event name) asks for the host's next event to be
    handed out already started; it is then `command.started_next`."""
    command.started_next = None
    if not command.is_open:
        if start_next is not None:
            # A resent completion (its answer was lost): hand out again what the first one started.
            writebehind.flush()
            command.started_next = HostCommand.objects.filter(
                lifecycle_event__target_id=command.lifecycle_event.target_id,
                status=CommandStatus.ACKED,
                started_on_delivery=True,
            ).first()
        return command
    if lines:
        # The hook's last lines, sent with the completion so they precede the result in the log.
        _store_lines(deployment, command, command.lifecycle_event.target.instance.name, lines)
    command.status = CommandStatus.COMPLETED
    command.completed_at = timezone.now()
    writebehind.save(command, ["status", "completed_at"])
    start = {command.instance_id: start_next} if start_next is not None else None
    command.started_next = _record_result(
        deployment, command.lifecycle_event, status, diagnostics, started_at, ended_at, start
    )
    return command


AGENT_CALLS = {"ack": _ack, "log": _logs, "complete": _complete}


def _prefetch_events(commands: dict[str, HostCommand], calls: list[tuple]) -> None:
    """Every completing host's lifecycle events in one query, for `_after_event`. The events the calls
    work on are the commands' own objects, so the list shows what the batch changed in memory."""
    completing = {
        str(command_id): commands[str(command_id)]
        for op, command_id, _, _ in calls
        if op == "complete" and str(command_id) in commands
    }
    if not completing:
        return
    own = {c.lifecycle_event_id: c.lifecycle_event for c in completing.values()}
    by_target: dict[int, list[LifecycleEvent]] = {}
    for event in LifecycleEvent.objects.filter(
        target_id__in={c.lifecycle_event.target_id for c in completing.values()}
    ).order_by("target_id", "position"):
        by_target.setdefault(event.target_id, []).append(own.get(event.pk, event))
    _batch.events = by_target


def _batch_events(target: DeploymentTarget, event: LifecycleEvent) -> list[LifecycleEvent]:
    prefetched = (getattr(_batch, "events", None) or {}).get(target.pk)
    if prefetched is not None and any(e is event for e in prefetched):
        return prefetched
    return list(LifecycleEvent.objects.filter(target=target).order_by("position"))


def _agent_calls(deployment_id: str, calls: list[tuple]) -> list:
    with eventlog.batched(deployment_id), writebehind.held():
        try:
            deployment = _lock(deployment_id)
        except Deployment.DoesNotExist:
            return [None] * len(calls)
        callers = {instance.pk: instance for _, _, instance, _ in calls if instance is not None}
        commands = _locked_commands(deployment, [command_id for _, command_id, _, _ in calls], callers)
        _prefetch_events(commands, calls)
        out = []
        for op, command_id, instance, args in calls:
            command = commands.get(str(command_id))
            if command is None or (instance is not None and command.instance_id != instance.pk):
                out.append(None)
            else:
                out.append(AGENT_CALLS[op](deployment, command, instance, *args))
        return out


def agent_calls(deployment_id: str, calls: list[tuple]) -> list:
    """Run many agents' calls on one deployment together: one transaction, one deployment lock, one
    event-log write and one commit for the lot, instead of one each (the lock serialises them anyway).

    Each call is `(op, command_id, instance, args)` with op one of AGENT_CALLS; each result is what
    ack_command / record_logs / complete_command would return, in order. The calls are applied one
    after another under the lock, exactly as separate transactions would be. If the batch fails, each
    call is retried in a transaction of its own, so one bad call cannot fail the others; its result is
    then the exception it raised.
    """
    try:
        with transaction.atomic():
            _batch.advances = set()
            try:
                return _agent_calls(deployment_id, calls)
            finally:
                _batch.advances = None  # before the commit runs the on-commit hooks
                _batch.events = None
    except Exception:
        if len(calls) == 1:
            raise
    out = []
    for call in calls:
        try:
            out.append(agent_calls(deployment_id, [call])[0])
        except Exception as exc:  # handed to that call's caller
            out.append(exc)
    return out


def _record_result(
    deployment,
    event: LifecycleEvent,
    status: str,
    diagnostics: dict,
    started_at,
    ended_at,
    start: dict[int, dict] | None = None,
) -> HostCommand | None:
    """Record an event's result and move its host on; returns the host's next command if `start`
    asked for it to be issued already started (see `_issue`)."""
    target = event.target
    name = target.instance.name
    if event.status == EventStatus.PENDING:
        event.move_to(
            EventStatus.IN_PROGRESS,
            instance_name=name,
            deployment_id=deployment.id,
            started_at=_parse_time(started_at),
        )
    event.move_to(
        status,
        instance_name=name,
        deployment_id=deployment.id,
        started_at=_parse_time(started_at),
        ended_at=_parse_time(ended_at),
        error_code=diagnostics.get("error_code") or "",
        script_name=diagnostics.get("script_name") or "",
        message=diagnostics.get("message") or "",
        log_tail=diagnostics.get("log_tail") or "",
    )
    return _after_event(deployment, target, event, start)


def finish_server_event(
    event_id: int, status: str, diagnostics: dict, *, halt: tuple[str, str] | None = None
):
    """Record the result of an event the server ran itself. Harmless if it was already recorded."""
    deployment_id = (
        LifecycleEvent.objects.filter(pk=event_id).values_list("target__deployment_id", flat=True).first()
    )
    if deployment_id is None:
        return
    with transaction.atomic():
        deployment = _lock(deployment_id)
        event = (
            LifecycleEvent.objects.select_for_update(of=("self",))
            .select_related("target__instance")
            .get(pk=event_id)
        )
        if event.status != EventStatus.IN_PROGRESS:
            return
        if halt is not None and deployment.status in RUNNING:
            deployment.mark_halting(*halt)
        _record_result(deployment, event, status, diagnostics, None, None)


def _after_event(
    deployment: Deployment,
    target: DeploymentTarget,
    event: LifecycleEvent,
    start: dict[int, dict] | None = None,
) -> HostCommand | None:
    if event.status in (EventStatus.SUCCEEDED, EventStatus.SKIPPED):
        # One query gives the next event and the host's whole sequence (for the command payload); in
        # a batch of agent calls, one query for every completing host (`_prefetch_events`).
        events = _batch_events(target, event)
        nxt = next((e for e in events if e.position > event.position), None)
        if nxt is not None:
            nxt.target = target
        stopping = deployment.error_code in (ErrorCode.MANUAL_STOP, ErrorCode.ALARM_ACTIVE)
        if (
            nxt is not None
            and target.role == bluegreen.REPLACEMENT
            and nxt.name == lifecycle.ALLOW_EVENTS[0]
            and deployment.phase == bluegreen.INSTALL
        ):
            # Installed and validated: wait for the whole replacement fleet before any traffic moves.
            target.move_to(TargetStatus.READY, message="Installed; waiting for traffic")
            _enqueue_advance(deployment.id)
            return None
        if nxt is not None and deployment.status in RUNNING and not stopping:
            # The fast path: no task round trip between a host's events.
            issued = _issue(deployment, [nxt], {target.role: [e.name for e in events]}, start)
            return next((c for c in issued if c.started_on_delivery), None)
        if nxt is not None:
            _skip_remaining(target)
            target.move_to(
                TargetStatus.UNKNOWN, message=f"Stopped after {event.name}: {deployment.error_code}"
            )
        else:
            target.move_to(TargetStatus.SUCCEEDED)
            if target.role != bluegreen.ORIGINAL:  # originals only lose traffic; they install nothing
                _remember(deployment, target, TargetStatus.SUCCEEDED)
    else:
        _skip_remaining(target)
        target.move_to(TargetStatus.FAILED, message=f"{event.name}: {event.message or event.error_code}")
        _remember(deployment, target, TargetStatus.FAILED)
    _enqueue_advance(deployment.id)
    return None


def _skip_remaining(target: DeploymentTarget) -> None:
    writebehind.flush()  # the statuses this UPDATE selects on must be the current ones
    LifecycleEvent.objects.filter(target=target, status=EventStatus.PENDING).update(
        status=EventStatus.SKIPPED, ended_at=timezone.now()
    )


def _remember(deployment: Deployment, target: DeploymentTarget, outcome: str) -> None:
    defaults = {"last_status": outcome, "last_deployment": deployment}
    if outcome == TargetStatus.SUCCEEDED:
        defaults["revision"] = deployment.revision
    InstanceGroupState.objects.update_or_create(
        instance_id=target.instance_id, group_id=deployment.deployment_group_id, defaults=defaults
    )


def revision_missing(deployment_id: str, message: str) -> bool:
    """An agent found the bundle gone from storage mid-rollout: halt with REVISION_MISSING, so the
    deployment ends with the code that says why instead of HEALTH_CONSTRAINTS (the first reason wins)."""
    with transaction.atomic():
        deployment = _lock(deployment_id)
        if deployment.status not in RUNNING or not deployment.mark_halting(
            ErrorCode.REVISION_MISSING, message
        ):
            return False
        _enqueue_advance(deployment.id)
        return True


# --- stopping --------------------------------------------------------------------------------


def request_stop(deployment_id: str, *, by: str = "a user", error_code: str = ErrorCode.MANUAL_STOP) -> bool:
    """Stop: pending hosts are skipped, unstarted commands cancelled, running events finish."""
    with transaction.atomic():
        deployment = _lock(deployment_id)
        if deployment.is_terminal:
            return False
        message = f"Stopped by {by}" if error_code == ErrorCode.MANUAL_STOP else by
        if deployment.status in (DeploymentStatus.CREATED, DeploymentStatus.QUEUED):
            deployment.move_to(DeploymentStatus.STOPPED, error_code=error_code, message=message)
            return True
        if not deployment.mark_halting(error_code, message):
            return True
        _skip_pending_targets(deployment)
        unstarted = list(
            HostCommand.objects.select_for_update(of=("self",))
            .filter(deployment=deployment, status=CommandStatus.ISSUED)
            .select_related("lifecycle_event__target__instance")
        )
        for command in unstarted:
            command.status = CommandStatus.CANCELLED
            command.completed_at = timezone.now()
            command.save(update_fields=["status", "completed_at"])
            event = command.lifecycle_event
            event.move_to(
                EventStatus.SKIPPED,
                instance_name=event.target.instance.name,
                deployment_id=deployment.id,
                message=f"Cancelled before the agent started it ({error_code})",
            )
            _skip_remaining(event.target)
            event.target.move_to(TargetStatus.UNKNOWN, message=f"Stopped before {event.name} ({error_code})")
        _enqueue_advance(deployment.id)
        return True


# --- the sweep -------------------------------------------------------------------------------


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
        complete_command(
            command.pk,
            None,
            EventStatus.FAILED,
            {"error_code": ScriptErrorCode.AGENT_ISSUE, "message": message},
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
        executor="server",
        status=EventStatus.IN_PROGRESS,
        started_at__lt=now - timedelta(seconds=SERVER_EVENT_LIMIT + settings.HOOK_TIMEOUT_GRACE),
    ).values_list("pk", flat=True)
    for event_id in list(stale):
        finish_server_event(
            event_id,
            EventStatus.FAILED,
            {
                "error_code": ScriptErrorCode.UNKNOWN_ERROR,
                "message": "The server did not finish this step in time.",
            },
        )
    for deployment_id in Deployment.objects.filter(
        status=DeploymentStatus.IN_PROGRESS, phase=bluegreen.PROVISION
    ).values_list("pk", flat=True):
        from .tasks import check_provisioning

        check_provisioning.delay(deployment_id)
    waits = 0
    for deployment_id in Deployment.objects.filter(
        status__in=(DeploymentStatus.READY, DeploymentStatus.BAKING), wait_until__lt=now
    ).values_list("pk", flat=True):
        waits += _end_wait(deployment_id, now)
    return {"failed_events": len(stale), "waits_ended": waits}


def re_advance_stalled() -> int:
    """Re-send the wake-ups a dead worker or a restarted Redis took with it.

    A worker killed inside `advance` holds its message unacknowledged until Redis's visibility
    timeout (an hour), and a Redis restart loses queued messages. A running deployment with no host
    in progress waits for nobody else, and a queued one may wait for a `start_next_queued` that is
    gone; both tasks are idempotent, so sending them again is harmless.
    """
    from .tasks import advance_deployment, start_next_queued

    stalled = list(
        Deployment.objects.filter(status=DeploymentStatus.IN_PROGRESS)
        .exclude(phase=bluegreen.PROVISION)
        .exclude(targets__status=TargetStatus.IN_PROGRESS)
        .values_list("pk", flat=True)
    )
    for deployment_id in stalled:
        advance_deployment.delay(deployment_id)
    queued_groups = set(
        Deployment.objects.filter(status=DeploymentStatus.QUEUED).values_list(
            "deployment_group_id", flat=True
        )
    )
    for group_id in queued_groups:
        start_next_queued.delay(group_id)
    return len(stalled)


def _end_wait(deployment_id: str, now: datetime) -> int:
    """A blue/green wait is over: Ready timed out (stop) or Baking is done (retire the originals)."""
    with transaction.atomic():
        deployment = _lock(deployment_id)
        if deployment.wait_until is None or deployment.wait_until >= now:
            return 0
        if deployment.status == DeploymentStatus.READY:
            deployment.mark_halting(
                ErrorCode.TIMEOUT, "Nobody rerouted traffic before the blue/green wait ran out; stopped."
            )
            _finish(deployment)
            return 1
        if deployment.status == DeploymentStatus.BAKING and not deployment.is_halting:
            bluegreen.finish_bake(deployment)
            _enqueue_next_queued(deployment.deployment_group_id)
            return 1
    return 0
