"""Which hosts a deployment targets and in what order: the database side of the pure `planner`."""

from __future__ import annotations

from .. import lifecycle, planner
from ..models import Deployment, DeploymentConfig, DeploymentGroup, Instance, InstanceGroupState, Revision


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


def ordered_plan(
    group: DeploymentGroup, instances: list[Instance], deployment: Deployment
) -> tuple[list[planner.Candidate], planner.Plan]:
    """The hosts in rollout order (least risky first) and their plan under the deployment's config."""
    ordered = planner.order_candidates(candidates_for(group, instances), deployment.revision_id)
    return ordered, planner.make_plan([c.name for c in ordered], deployment.deployment_config.health_rule())


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
    """An in-place host's lifecycle events, in order."""
    group = deployment.deployment_group
    return lifecycle.in_place_events(group.with_traffic_control, bool((group.health_check or {}).get("url")))
