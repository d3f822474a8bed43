"""Automatic rollback and keeping new hosts current.

A rollback is a *new* deployment of the group's last successful revision, created by
`codeDeployRollback`, linked both ways to the deployment it rolls back (`rollback_of`, a
one-to-one, so a second attempt for the same deployment is refused by the database).
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from . import eventlog
from .models import (
    ONE_AT_A_TIME,
    Creator,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    DeploymentStatus,
    ErrorCode,
    Instance,
    InstanceGroupState,
    OutdatedInstancesStrategy,
)

log = logging.getLogger(__name__)

ON_FAILURE = "DEPLOYMENT_FAILURE"
ON_ALARM = "DEPLOYMENT_STOP_ON_ALARM"
ON_REQUEST = "DEPLOYMENT_STOP_ON_REQUEST"
ROLLBACK_EVENTS = (ON_FAILURE, ON_ALARM, ON_REQUEST)


def rollback_reason(deployment: Deployment) -> str:
    if deployment.error_code == ErrorCode.MANUAL_STOP:
        return ON_REQUEST
    if deployment.error_code == ErrorCode.ALARM_ACTIVE:
        return ON_ALARM
    return ON_FAILURE


def wants_rollback(deployment: Deployment) -> bool:
    events = deployment.auto_rollback_events
    if events is None:
        events = deployment.deployment_group.auto_rollback_events or []
    return deployment.creator != Creator.ROLLBACK and rollback_reason(deployment) in events


def maybe_roll_back(deployment: Deployment) -> None:
    """Called as a deployment ends badly, inside its transaction: schedule the rollback after commit."""
    if not wants_rollback(deployment):
        return
    from .tasks import roll_back

    transaction.on_commit(lambda: roll_back.delay(deployment.id))


def last_successful(group: DeploymentGroup, exclude: Deployment | None = None) -> Deployment | None:
    query = Deployment.objects.filter(deployment_group=group, status=DeploymentStatus.SUCCEEDED)
    if exclude is not None:
        query = query.exclude(revision_id=exclude.revision_id)
    return query.select_related("revision").order_by("-ended_at").first()


def roll_back(deployment_id: str) -> str | None:
    from .engine import create_deployment

    failed = Deployment.objects.select_related("deployment_group").filter(pk=deployment_id).first()
    if failed is None or Deployment.objects.filter(rollback_of=failed).exists():
        return None
    previous = last_successful(failed.deployment_group, exclude=failed)
    if previous is None:
        with transaction.atomic():
            eventlog.append(
                failed.id,
                [
                    eventlog.entry(
                        "rollback", message="No earlier successful revision in this group to roll back to"
                    )
                ],
            )
        return None
    try:
        rollback = create_deployment(
            group=failed.deployment_group,
            revision=previous.revision,
            config=failed.deployment_config,
            creator=Creator.ROLLBACK,
            description=f"Automatic rollback of {failed.id} ({rollback_reason(failed)})",
            rollback_of=failed,
            auto_rollback_events=[],
        )
    except IntegrityError:
        return None  # another worker rolled it back first
    with transaction.atomic():
        eventlog.append(
            failed.id,
            [
                eventlog.entry(
                    "rollback",
                    status=DeploymentStatus.CREATED,
                    message=f"Rolling back to {previous.revision.display_name} with {rollback.id}",
                    rollback=rollback.id,
                )
            ],
        )
    return rollback.id


def update_new_instance(instance_id: int) -> list[str]:
    """A host that joins a group gets the group's last successful revision (creator: autoscaling).

    If the group is busy the deployment queues behind the running one, so a host that joined during
    a rollout gets a follow-up deployment; with the IGNORE strategy it gets nothing.
    """
    from .engine import create_deployment

    instance = Instance.objects.filter(pk=instance_id, deregistered_at__isnull=True).first()
    if instance is None:
        return []
    created = []
    groups = DeploymentGroup.objects.filter(application__project_id=instance.project_id).select_related(
        "application"
    )
    known = set(InstanceGroupState.objects.filter(instance=instance).values_list("group_id", flat=True))
    config = DeploymentConfig.objects.get(name=ONE_AT_A_TIME)
    for group in groups:
        if group.pk in known or group.outdated_instances_strategy != OutdatedInstancesStrategy.UPDATE:
            continue
        if not group.matches(instance.tags or {}):
            continue
        previous = last_successful(group)
        if previous is None:
            continue
        deployment = create_deployment(
            group=group,
            revision=previous.revision,
            config=config,
            creator=Creator.AUTOSCALING,
            description=f"{instance.name} joined the group: installing {previous.revision.display_name}",
            instance_ids=[instance.pk],
        )
        created.append(deployment.id)
    return created
