"""In-place deployments: each host stops, installs and starts the revision, batch after batch,
as the minimum healthy hosts rule allows."""

from __future__ import annotations

from .. import lifecycle, planner
from ..models import (
    Deployment,
    DeploymentStatus,
    DeploymentTarget,
    Instance,
    LifecycleEvent,
    StepOutcome,
    TargetStatus,
)
from . import dispatch, planning, steps
from .strategy import Strategy


class InPlace(Strategy):
    def start(self, deployment: Deployment, instances: list[Instance]) -> None:
        group = deployment.deployment_group
        if deployment.instance_ids is not None:
            wanted = set(deployment.instance_ids)
            instances = [i for i in instances if i.pk in wanted]
        ordered, plan = planning.ordered_plan(group, instances, deployment)
        if not plan.valid:
            deployment.move_to(DeploymentStatus.FAILED, error_code=plan.error_code, message=plan.reason)
            steps.start_next_queued_after_commit(group.pk)
            return
        names = planning.event_names(deployment)
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
        dispatch.advance(deployment.id)

    def advance(self, deployment: Deployment) -> None:
        counts = steps.target_counts(deployment)
        in_progress = counts[TargetStatus.IN_PROGRESS]
        step = planner.next_step(
            fleet_size=sum(counts.values()),
            minimum_healthy=deployment.minimum_healthy,
            succeeded=counts[TargetStatus.SUCCEEDED],
            failed=counts[TargetStatus.FAILED] + counts[TargetStatus.UNKNOWN],
            in_progress=in_progress,
            pending=counts[TargetStatus.PENDING],
        )
        if step.outcome == StepOutcome.SUCCEEDED:
            deployment.move_to(DeploymentStatus.SUCCEEDED)
            steps.start_next_queued_after_commit(deployment.deployment_group_id)
        elif step.outcome == StepOutcome.FAILED:
            deployment.mark_halting(*steps.health_failure(deployment, step.reason))
            steps.finish(deployment)
        elif step.halt:
            deployment.mark_halting(*steps.health_failure(deployment, step.reason))
            steps.skip_pending(deployment)
            if in_progress == 0:
                steps.finish(deployment)
        elif step.start:
            steps.start_targets(deployment, step.start)
