"""Blue/green deployments: v2 comes up beside v1, traffic moves once it passes, then v1 retires.

Phases (`Deployment.phase`, `Phase`; PHASE_TRANSITIONS says which change may follow which):

1. ``install``: the replacement fleet runs ApplicationStop … ValidateService under the minimum
   healthy hosts rule (the rule applies to the replacements). A replacement that is done waits in
   target status Ready. (``provision`` comes first when the replacements are an Auto Scaling group's
   copy: see `provision.py`.)
2. ``reroute``: at once, or after a user's "continue" while the deployment waits in Ready (a timeout
   stops it). Replacements run BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic.
3. ``block``: the originals run BeforeBlockTraffic, BlockTraffic, AfterBlockTraffic. An original that
   fails to deregister fails the deployment.
4. ``bake``: the deployment is Baking until the originals' wait is over; then they are retired
   (terminated, kept alive outside the group, or released back to the standby pool) and the
   replacements take the group's tags.

The group's configuration is read by `bluegreen_config`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from .. import eventlog, lifecycle, planner
from ..models import (
    TRAFFIC_MOVED,
    Deployment,
    DeploymentStatus,
    DeploymentTarget,
    EntryKind,
    ErrorCode,
    EventStatus,
    Instance,
    LifecycleEvent,
    Phase,
    Role,
    StepOutcome,
    TargetStatus,
)
from . import bluegreen_config, dispatch, planning, steps
from .strategy import Strategy


class BlueGreen(Strategy):
    def start(self, deployment: Deployment, instances: list[Instance]) -> None:
        failed = deployment.rollback_of
        if failed is not None and failed.phase in TRAFFIC_MOVED:
            start_rollback(deployment, failed)
            return
        group = deployment.deployment_group
        if bluegreen_config.config_of(group)["replacement"].get("source") == "asg_copy":
            # The replacements do not exist yet: originals now, replacements once the copy's agents register.
            DeploymentTarget.objects.bulk_create(
                [
                    DeploymentTarget(
                        deployment=deployment, instance_id=inst.pk, position=i, role=Role.ORIGINAL
                    )
                    for i, inst in enumerate(sorted(instances, key=lambda i: i.name))
                ]
            )
            deployment.move_phase_to(Phase.PROVISION)
            deployment.move_to(
                DeploymentStatus.IN_PROGRESS, message="Copying the Auto Scaling group for the replacements"
            )
            dispatch.after_commit(dispatch.PROVISION_REPLACEMENTS, deployment.id)
            return
        plan_replacements(deployment, bluegreen_config.fleets(group, instances), instances)

    def advance(self, deployment: Deployment) -> None:
        replacements = steps.target_counts(deployment, Role.REPLACEMENT)
        originals = steps.target_counts(deployment, Role.ORIGINAL)
        if deployment.phase == Phase.INSTALL:
            self._install(deployment, replacements)
        elif deployment.phase == Phase.REROUTE:
            if (
                replacements[TargetStatus.IN_PROGRESS]
                or replacements[TargetStatus.READY]
                or replacements[TargetStatus.PENDING]
            ):
                return
            if _failed_in_reroute(deployment):
                deployment.mark_halting(
                    ErrorCode.HEALTH_CONSTRAINTS, "Traffic could not be moved to every replacement."
                )
                steps.skip_pending(deployment)
                steps.finish(deployment)
                return
            deployment.move_phase_to(Phase.BLOCK)
            steps.start_targets(deployment, originals[TargetStatus.PENDING], role=Role.ORIGINAL)
            if not originals[TargetStatus.PENDING]:
                _bake(deployment)
        elif deployment.phase == Phase.BLOCK:
            if originals[TargetStatus.IN_PROGRESS] or originals[TargetStatus.PENDING]:
                return
            if originals[TargetStatus.FAILED] or originals[TargetStatus.UNKNOWN]:
                deployment.mark_halting(
                    ErrorCode.HEALTH_CONSTRAINTS, "An original instance failed to leave the load balancer."
                )
                steps.finish(deployment)
                return
            _bake(deployment)

    def _install(self, deployment: Deployment, replacements) -> None:
        step = planner.next_step(
            fleet_size=sum(replacements.values()),
            minimum_healthy=deployment.minimum_healthy,
            succeeded=replacements[TargetStatus.READY] + replacements[TargetStatus.SUCCEEDED],
            failed=replacements[TargetStatus.FAILED] + replacements[TargetStatus.UNKNOWN],
            in_progress=replacements[TargetStatus.IN_PROGRESS],
            pending=replacements[TargetStatus.PENDING],
        )
        if step.outcome == StepOutcome.SUCCEEDED:
            cfg = bluegreen_config.config_of(deployment.deployment_group)["reroute"]
            if cfg["action"] == "STOP_DEPLOYMENT":
                deployment.move_phase_to(
                    Phase.REROUTE, wait_until=timezone.now() + timedelta(seconds=float(cfg["wait_seconds"]))
                )
                deployment.move_to(
                    DeploymentStatus.READY,
                    message="Replacements are ready: waiting for a user to reroute traffic",
                )
            else:
                reroute(deployment)
        elif step.outcome == StepOutcome.FAILED or step.halt:
            deployment.mark_halting(*steps.health_failure(deployment, step.reason))
            steps.skip_pending(deployment)
            if replacements[TargetStatus.IN_PROGRESS] == 0:
                steps.finish(deployment)
        elif step.start:
            steps.start_targets(deployment, step.start, role=Role.REPLACEMENT)

    def holds_before(self, deployment: Deployment, target: DeploymentTarget, nxt: LifecycleEvent) -> bool:
        if not (
            target.role == Role.REPLACEMENT
            and nxt.name == lifecycle.ALLOW_EVENTS[0]
            and deployment.phase == Phase.INSTALL
        ):
            return False
        # Installed and validated: wait for the whole replacement fleet before any traffic moves.
        target.move_to(TargetStatus.READY, message="Installed; waiting for traffic")
        dispatch.advance(deployment.id)
        return True

    def installs(self, target: DeploymentTarget) -> bool:
        return target.role != Role.ORIGINAL  # originals only lose traffic; they install nothing

    def end_wait(self, deployment: Deployment, now: datetime) -> bool:
        if deployment.status == DeploymentStatus.READY:
            deployment.mark_halting(
                ErrorCode.TIMEOUT, "Nobody rerouted traffic before the blue/green wait ran out; stopped."
            )
            steps.finish(deployment)
            return True
        if deployment.status == DeploymentStatus.BAKING and not deployment.is_halting:
            finish_bake(deployment)
            steps.start_next_queued_after_commit(deployment.deployment_group_id)
            return True
        return False


def plan_replacements(
    deployment: Deployment, replacements: list[Instance], originals: list[Instance]
) -> None:
    """Snapshot the replacement fleet (planned under the config's rule) and the originals; start installing."""
    group = deployment.deployment_group
    ordered, plan = planning.ordered_plan(group, replacements, deployment)
    if not plan.valid:
        reason = plan.reason
        if plan.error_code == ErrorCode.NO_INSTANCES:
            reason = "No replacement instances match the blue/green replacement filters. " + reason
        deployment.move_to(DeploymentStatus.FAILED, error_code=plan.error_code, message=reason)
        steps.start_next_queued_after_commit(group.pk)
        return
    started = deployment.status == DeploymentStatus.IN_PROGRESS
    rows = [
        DeploymentTarget(
            deployment=deployment,
            instance_id=c.key,
            position=index,
            batch=index // plan.batch_size,
            role=Role.REPLACEMENT,
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
            role=Role.ORIGINAL,
        )
        for index, inst in enumerate(sorted(originals, key=lambda i: i.name))
    ]
    targets = DeploymentTarget.objects.bulk_create(rows)
    sequences = {
        Role.REPLACEMENT: bluegreen_config.replacement_events(group),
        Role.ORIGINAL: lifecycle.BLOCK_EVENTS,
    }
    LifecycleEvent.objects.bulk_create(
        [
            LifecycleEvent(target=t, name=name, position=pos, executor=lifecycle.executor_for(name))
            for t in targets
            for pos, name in enumerate(sequences[t.role])
        ]
    )
    deployment.minimum_healthy = plan.minimum_healthy
    deployment.move_phase_to(Phase.INSTALL, update_fields=("minimum_healthy",))
    message = (
        f"Blue/green: {plan.fleet_size} replacement(s) beside {len(originals)} original(s), {plan.arithmetic}"
    )
    if started:
        eventlog.append(
            deployment.id, [eventlog.entry(EntryKind.DEPLOYMENT, status=deployment.status, message=message)]
        )
    else:
        deployment.move_to(DeploymentStatus.IN_PROGRESS, message=message)
    dispatch.advance(deployment.id)


def _failed_in_reroute(deployment: Deployment) -> bool:
    """A replacement failed one of its traffic events. Replacements that failed to install, within
    what the minimum healthy hosts rule allowed, never get traffic and do not fail the reroute."""
    return LifecycleEvent.objects.filter(
        target__deployment=deployment,
        target__role=Role.REPLACEMENT,
        target__status__in=(TargetStatus.FAILED, TargetStatus.UNKNOWN),
        name__in=lifecycle.ALLOW_EVENTS,
        status__in=(EventStatus.FAILED, EventStatus.UNKNOWN),
    ).exists()


def reroute(deployment: Deployment) -> None:
    """Move the Ready replacements on to their traffic events (at once, or on a user's "continue")."""
    if deployment.phase == Phase.REROUTE:  # it waited in Ready for "continue": the wait is over
        deployment.wait_until = None
        deployment.save(update_fields=["wait_until"])
    else:
        deployment.move_phase_to(Phase.REROUTE)
    ready = list(
        DeploymentTarget.objects.filter(
            deployment=deployment, role=Role.REPLACEMENT, status=TargetStatus.READY
        ).select_related("instance")
    )
    for target in ready:
        target.move_to(TargetStatus.IN_PROGRESS, message="Rerouting traffic")
    nxt = list(
        LifecycleEvent.objects.filter(target__in=ready, name=lifecycle.ALLOW_EVENTS[0]).select_related(
            "target__instance"
        )
    )
    steps.issue(deployment, nxt)


def _bake(deployment: Deployment) -> None:
    cfg = bluegreen_config.config_of(deployment.deployment_group)["originals"]
    deployment.move_phase_to(
        Phase.BAKE, wait_until=timezone.now() + timedelta(seconds=float(cfg["wait_seconds"]))
    )
    deployment.move_to(
        DeploymentStatus.BAKING,
        message=f"Traffic is on the replacements; originals are retired ({cfg['action']}) after {cfg['wait_seconds']} s",
    )


def start_rollback(deployment: Deployment, failed: Deployment) -> None:
    """A blue/green rollback: the failed deployment's originals get traffic back (Allow events) and its
    replacements lose it (Block events) and return to the pool. Nothing is installed."""
    previous = list(
        DeploymentTarget.objects.filter(deployment=failed).select_related("instance").order_by("position")
    )
    restore = [t.instance for t in previous if t.role == Role.ORIGINAL]
    retire = [t.instance for t in previous if t.role == Role.REPLACEMENT]
    rows = [
        DeploymentTarget(deployment=deployment, instance=inst, position=i, batch=0, role=Role.REPLACEMENT)
        for i, inst in enumerate(restore)
    ]
    rows += [
        DeploymentTarget(
            deployment=deployment, instance=inst, position=len(restore) + i, batch=1, role=Role.ORIGINAL
        )
        for i, inst in enumerate(retire)
    ]
    targets = DeploymentTarget.objects.bulk_create(rows)
    LifecycleEvent.objects.bulk_create(
        [
            LifecycleEvent(target=t, name=name, position=pos, executor=lifecycle.executor_for(name))
            for t in targets
            for pos, name in enumerate(
                lifecycle.ALLOW_EVENTS if t.role == Role.REPLACEMENT else lifecycle.BLOCK_EVENTS
            )
        ]
    )
    deployment.move_phase_to(Phase.REROUTE)
    deployment.move_to(
        DeploymentStatus.IN_PROGRESS,
        message=f"Blue/green rollback: traffic back to {len(restore)} original(s), away from {len(retire)} replacement(s)",
    )
    steps.start_targets(deployment, len(restore), role=Role.REPLACEMENT)


def finish_bake(deployment: Deployment) -> None:
    """Retire the originals, hand the group's tags to the replacements and succeed. Caller holds the lock."""
    group = deployment.deployment_group
    cfg = bluegreen_config.config_of(group)
    if deployment.rollback_of_id:
        # Rolling back: the hosts losing traffic are the failed deployment's replacements; they go
        # back where they came from, whatever the group does with originals normally.
        cfg["originals"] = {**cfg["originals"], "action": "RELEASE"}
    group_tags = bluegreen_config.exact_tags(group.tag_filters or [])
    pool_tags = bluegreen_config.exact_tags(cfg["replacement"].get("tag_filters") or [])
    targets = DeploymentTarget.objects.filter(deployment=deployment).select_related("instance")
    for target in targets:
        instance = target.instance
        tags = dict(instance.tags or {})
        if target.role == Role.REPLACEMENT and target.status == TargetStatus.SUCCEEDED:
            for key in pool_tags:
                tags.pop(key, None)
            tags.update(group_tags)
        elif target.role == Role.ORIGINAL:
            for key in group_tags:
                tags.pop(key, None)
            if cfg["originals"]["action"] == "RELEASE":
                tags.update(pool_tags)
            elif cfg["originals"]["action"] == "TERMINATE":
                instance.deregister()
        if tags != instance.tags:
            Instance.objects.filter(pk=instance.pk).update(tags=tags)
    deployment.move_to(
        DeploymentStatus.SUCCEEDED, message=f"Originals retired ({cfg['originals']['action']})"
    )
