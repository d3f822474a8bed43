"""When a deployment that ends badly is rolled back, and to what.

A rollback is a *new* deployment of the group's last successful revision, created by
`codeDeployRollback` (`creation.roll_back`), linked both ways to the deployment it rolls back
(`rollback_of`, a one-to-one, so a second attempt for the same deployment is refused by the database).
"""

from __future__ import annotations

from ..models import Creator, Deployment, DeploymentGroup, DeploymentStatus, ErrorCode
from . import dispatch

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
    if wants_rollback(deployment):
        dispatch.after_commit(dispatch.ROLL_BACK, deployment.id)


def last_successful(group: DeploymentGroup, exclude: Deployment | None = None) -> Deployment | None:
    query = Deployment.objects.filter(deployment_group=group, status=DeploymentStatus.SUCCEEDED)
    if exclude is not None:
        query = query.exclude(revision_id=exclude.revision_id)
    return query.select_related("revision").order_by("-ended_at").first()
