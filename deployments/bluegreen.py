"""Blue/green deployments: v2 comes up beside v1, traffic moves once it passes, then v1 retires.

Phases (Deployment.phase):

1. ``install``: the replacement fleet runs ApplicationStop … ValidateService under the minimum
   healthy hosts rule (the rule applies to the replacements). A replacement that is done waits in
   target status Ready.
2. ``reroute``: at once, or after a user's "continue" while the deployment waits in Ready (a timeout
   stops it). Replacements run BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic.
3. ``block``: the originals run BeforeBlockTraffic, BlockTraffic, AfterBlockTraffic. An original that
   fails to deregister fails the deployment.
4. ``bake``: the deployment is Baking until the originals' wait is over; then they are retired
   (terminated, kept alive outside the group, or released back to the standby pool) and the
   replacements take the group's tags.

The group's `blue_green_configuration`:
``{"replacement": {"source": "standby_pool" | "discover", "tag_filters": [...]},
   "reroute": {"action": "CONTINUE_DEPLOYMENT" | "STOP_DEPLOYMENT", "wait_seconds": 3600},
   "originals": {"action": "TERMINATE" | "KEEP_ALIVE" | "RELEASE", "wait_seconds": 0}}``.
A standby pool of registered on-premises agents is something CodeDeploy cannot do.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from . import lifecycle, planner
from .models import DeploymentStatus, DeploymentTarget, ErrorCode, Instance, LifecycleEvent, TargetStatus

REPLACEMENT, ORIGINAL = "replacement", "original"
PROVISION, INSTALL, REROUTE, BLOCK, BAKE = "provision", "install", "reroute", "block", "bake"
# Phases after which some traffic may be on the replacements: a rollback must move it back.
TRAFFIC_MOVED = (REROUTE, BLOCK, BAKE)
SOURCES = ("standby_pool", "discover", "asg_copy")
REROUTE_ACTIONS = ("CONTINUE_DEPLOYMENT", "STOP_DEPLOYMENT")
ORIGINAL_ACTIONS = ("TERMINATE", "KEEP_ALIVE", "RELEASE")


def config_of(group) -> dict:
    cfg = group.blue_green_configuration or {}
    return {
        "replacement": cfg.get("replacement") or {},
        "reroute": {"action": "CONTINUE_DEPLOYMENT", "wait_seconds": 3600, **(cfg.get("reroute") or {})},
        "originals": {"action": "KEEP_ALIVE", "wait_seconds": 0, **(cfg.get("originals") or {})},
    }


def validate(cfg: dict) -> str | None:
    """A message naming what is wrong with a blue/green configuration, or None."""
    replacement = (cfg or {}).get("replacement") or {}
    if replacement.get("source") not in SOURCES:
        return f"replacement.source must be one of {', '.join(SOURCES)}"
    if replacement["source"] == "asg_copy":
        if not replacement.get("auto_scaling_group"):
            return "replacement.auto_scaling_group must name the Auto Scaling group to copy"
        return None
    filters = replacement.get("tag_filters") or []
    if not filters:
        return "replacement.tag_filters must select the replacement (or standby) instances"
    for index, tag_filter in enumerate(filters):
        problem = planner.validate_tag_filter(tag_filter)
        if problem:
            return f"replacement.tag_filters[{index}]: {problem}"
    if (cfg.get("reroute") or {}).get("action", "CONTINUE_DEPLOYMENT") not in REROUTE_ACTIONS:
        return f"reroute.action must be one of {', '.join(REROUTE_ACTIONS)}"
    if (cfg.get("originals") or {}).get("action", "KEEP_ALIVE") not in ORIGINAL_ACTIONS:
        return f"originals.action must be one of {', '.join(ORIGINAL_ACTIONS)}"
    return None


def replacement_events(group) -> tuple[str, ...]:
    installs = lifecycle.in_place_events(False, bool((group.health_check or {}).get("url")))
    return (*installs, *lifecycle.ALLOW_EVENTS)


def fleets(group, originals: list[Instance]) -> list[Instance]:
    """The replacement fleet: instances selected by the replacement filters, never an original."""
    cfg = config_of(group)["replacement"]
    taken = {i.pk for i in originals}
    candidates = Instance.objects.filter(
        deregistered_at__isnull=True, project_id=group.application.project_id
    )
    return [
        i
        for i in candidates
        if i.pk not in taken and planner.matches_tags(i.tags or {}, cfg.get("tag_filters") or [], [])
    ]


def counts_for(deployment, role: str) -> dict[str, int]:
    from collections import Counter

    from django.db.models import Count

    rows = (
        DeploymentTarget.objects.filter(deployment=deployment, role=role)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return Counter({row["status"]: row["n"] for row in rows})


def advance(deployment, engine) -> None:
    """The blue/green part of engine.advance; the caller holds the deployment lock."""
    replacements = counts_for(deployment, REPLACEMENT)
    originals = counts_for(deployment, ORIGINAL)
    if deployment.phase == INSTALL:
        step = planner.next_step(
            fleet_size=sum(replacements.values()),
            minimum_healthy=deployment.minimum_healthy,
            succeeded=replacements[TargetStatus.READY] + replacements[TargetStatus.SUCCEEDED],
            failed=replacements[TargetStatus.FAILED] + replacements[TargetStatus.UNKNOWN],
            in_progress=replacements[TargetStatus.IN_PROGRESS],
            pending=replacements[TargetStatus.PENDING],
        )
        if step.outcome == "Succeeded":
            cfg = config_of(deployment.deployment_group)["reroute"]
            if cfg["action"] == "STOP_DEPLOYMENT":
                deployment.phase = REROUTE
                deployment.wait_until = timezone.now() + timedelta(seconds=float(cfg["wait_seconds"]))
                deployment.save(update_fields=["phase", "wait_until"])
                deployment.move_to(
                    DeploymentStatus.READY,
                    message="Replacements are ready: waiting for a user to reroute traffic",
                )
            else:
                reroute(deployment, engine)
        elif step.outcome == "Failed" or step.halt:
            deployment.mark_halting(*engine._health_failure(deployment, step.reason))
            engine._skip_pending_targets(deployment)
            if replacements[TargetStatus.IN_PROGRESS] == 0:
                engine._finish(deployment)
        elif step.start:
            engine._start_targets(deployment, step.start, role=REPLACEMENT)
    elif deployment.phase == REROUTE:
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
            engine._skip_pending_targets(deployment)
            engine._finish(deployment)
            return
        deployment.phase = BLOCK
        deployment.save(update_fields=["phase"])
        engine._start_targets(deployment, originals[TargetStatus.PENDING], role=ORIGINAL)
        if not originals[TargetStatus.PENDING]:
            _bake(deployment)
    elif deployment.phase == BLOCK:
        if originals[TargetStatus.IN_PROGRESS] or originals[TargetStatus.PENDING]:
            return
        if originals[TargetStatus.FAILED] or originals[TargetStatus.UNKNOWN]:
            deployment.mark_halting(
                ErrorCode.HEALTH_CONSTRAINTS, "An original instance failed to leave the load balancer."
            )
            engine._finish(deployment)
            return
        _bake(deployment)


def _failed_in_reroute(deployment) -> bool:
    """A replacement failed one of its traffic events. Replacements that failed to install, within
    what the minimum healthy hosts rule allowed, never get traffic and do not fail the reroute."""
    from .models import EventStatus

    return LifecycleEvent.objects.filter(
        target__deployment=deployment,
        target__role=REPLACEMENT,
        target__status__in=(TargetStatus.FAILED, TargetStatus.UNKNOWN),
        name__in=lifecycle.ALLOW_EVENTS,
        status__in=(EventStatus.FAILED, EventStatus.UNKNOWN),
    ).exists()


def reroute(deployment, engine) -> None:
    """Move the Ready replacements on to their traffic events."""
    deployment.phase = REROUTE
    deployment.wait_until = None
    deployment.save(update_fields=["phase", "wait_until"])
    ready = list(
        DeploymentTarget.objects.filter(
            deployment=deployment, role=REPLACEMENT, status=TargetStatus.READY
        ).select_related("instance")
    )
    for target in ready:
        target.move_to(TargetStatus.IN_PROGRESS, message="Rerouting traffic")
    nxt = list(
        LifecycleEvent.objects.filter(target__in=ready, name=lifecycle.ALLOW_EVENTS[0]).select_related(
            "target__instance"
        )
    )
    engine._issue(deployment, nxt)


def _bake(deployment) -> None:
    cfg = config_of(deployment.deployment_group)["originals"]
    deployment.phase = BAKE
    deployment.wait_until = timezone.now() + timedelta(seconds=float(cfg["wait_seconds"]))
    deployment.save(update_fields=["phase", "wait_until"])
    deployment.move_to(
        DeploymentStatus.BAKING,
        message=f"Traffic is on the replacements; originals are retired ({cfg['action']}) after {cfg['wait_seconds']} s",
    )


def start_rollback(deployment, failed, engine) -> None:
    """A blue/green rollback: the failed deployment's originals get traffic back (Allow events) and its
    replacements lose it (Block events) and return to the pool. Nothing is installed."""
    from .models import DeploymentTarget as Target

    previous = list(Target.objects.filter(deployment=failed).select_related("instance").order_by("position"))
    restore = [t.instance for t in previous if t.role == ORIGINAL]
    retire = [t.instance for t in previous if t.role == REPLACEMENT]
    rows = [
        Target(deployment=deployment, instance=inst, position=i, batch=0, role=REPLACEMENT)
        for i, inst in enumerate(restore)
    ]
    rows += [
        Target(deployment=deployment, instance=inst, position=len(restore) + i, batch=1, role=ORIGINAL)
        for i, inst in enumerate(retire)
    ]
    targets = Target.objects.bulk_create(rows)
    LifecycleEvent.objects.bulk_create(
        [
            LifecycleEvent(target=t, name=name, position=pos, executor=lifecycle.executor_for(name))
            for t in targets
            for pos, name in enumerate(
                lifecycle.ALLOW_EVENTS if t.role == REPLACEMENT else lifecycle.BLOCK_EVENTS
            )
        ]
    )
    deployment.phase = REROUTE
    deployment.save(update_fields=["phase"])
    deployment.move_to(
        DeploymentStatus.IN_PROGRESS,
        message=f"Blue/green rollback: traffic back to {len(restore)} original(s), away from {len(retire)} replacement(s)",
    )
    engine._start_targets(deployment, len(restore), role=REPLACEMENT)


def finish_bake(deployment) -> None:
    """Retire the originals, hand the group's tags to the replacements and succeed. Caller holds the lock."""
    group = deployment.deployment_group
    cfg = config_of(group)
    if deployment.rollback_of_id:
        # Rolling back: the hosts losing traffic are the failed deployment's replacements; they go
        # back where they came from, whatever the group does with originals normally.
        cfg["originals"] = {**cfg["originals"], "action": "RELEASE"}
    group_tags = _exact_tags(group.tag_filters or [])
    pool_tags = _exact_tags(cfg["replacement"].get("tag_filters") or [])
    targets = DeploymentTarget.objects.filter(deployment=deployment).select_related("instance")
    for target in targets:
        instance = target.instance
        tags = dict(instance.tags or {})
        if target.role == REPLACEMENT and target.status == TargetStatus.SUCCEEDED:
            for key in pool_tags:
                tags.pop(key, None)
            tags.update(group_tags)
        elif target.role == ORIGINAL:
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


def _exact_tags(filters) -> dict[str, str]:
    return {f["key"]: f["value"] for f in filters if f.get("type", "KEY_AND_VALUE") == "KEY_AND_VALUE"}


# --- Auto Scaling group copies ----------------------------------------------------------------


def _fail_provisioning(deployment_id: str, message: str) -> None:
    from django.db import transaction

    from . import engine

    with transaction.atomic():
        deployment = engine._lock(deployment_id)
        if deployment.phase == PROVISION and not deployment.is_terminal:
            deployment.mark_halting(ErrorCode.INTERNAL_ERROR, message)
            engine._skip_pending_targets(deployment)
            engine._finish(deployment)


def start_provisioning(deployment_id: str) -> None:
    """Create the copy. Runs in a worker, outside any transaction."""
    from . import provisioning
    from .models import Deployment

    deployment = (
        Deployment.objects.select_related("deployment_group__application").filter(pk=deployment_id).first()
    )
    if deployment is None or deployment.phase != PROVISION or deployment.is_terminal:
        return
    try:
        provisioning.create_copy(deployment, config_of(deployment.deployment_group)["replacement"])
    except Exception as exc:  # any AWS failure ends the deployment, with its message
        _fail_provisioning(deployment_id, f"Could not copy the Auto Scaling group: {exc}")


def check_provisioning(deployment_id: str) -> None:
    """Called by the sweep: once every instance of the copy has a registered agent, go on."""
    from . import engine, provisioning
    from .models import Deployment

    deployment = (
        Deployment.objects.select_related("deployment_group__application").filter(pk=deployment_id).first()
    )
    if deployment is None or deployment.phase != PROVISION or deployment.is_terminal:
        return
    cfg = config_of(deployment.deployment_group)["replacement"]
    try:
        found, desired = provisioning.registered_replacements(deployment, cfg)
    except Exception as exc:  # reported when the wait times out
        found, desired = [], -2
        problem = str(exc)
    else:
        problem = f"{len(found)} of {desired} instances of {provisioning.copy_name(deployment)} have a registered agent"
    if desired >= 0 and len(found) >= max(desired, 1):
        engine.provisioned(deployment_id, found)
    elif provisioning.timed_out(deployment, cfg):
        _fail_provisioning(deployment_id, f"Replacement instances did not come up in time: {problem}")
