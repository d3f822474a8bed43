"""Triggers: CodeDeploy's event types delivered to webhooks, Slack-compatible webhooks and email."""

from __future__ import annotations

from integrations.models import TriggerEvent

DEPLOYMENT_EVENTS = {
    "InProgress": TriggerEvent.DEPLOYMENT_START,
    "Succeeded": TriggerEvent.DEPLOYMENT_SUCCESS,
    "Failed": TriggerEvent.DEPLOYMENT_FAILURE,
    "Stopped": TriggerEvent.DEPLOYMENT_STOP,
    "Ready": TriggerEvent.DEPLOYMENT_READY,
}
TARGET_EVENTS = {
    "InProgress": TriggerEvent.INSTANCE_START,
    "Succeeded": TriggerEvent.INSTANCE_SUCCESS,
    "Failed": TriggerEvent.INSTANCE_FAILURE,
    "Ready": TriggerEvent.INSTANCE_READY,
}


def event_for(kind: str, status: str, *, rollback: bool = False) -> str | None:
    """The CodeDeploy trigger event a status change is, if any.

    A rollback deployment being created is DeploymentRollback (CodeDeploy fires it when it
    rolls back); its later progress fires the ordinary deployment events.
    """
    if kind == "deployment":
        if status == "Created" and rollback:
            return TriggerEvent.DEPLOYMENT_ROLLBACK
        return DEPLOYMENT_EVENTS.get(status)
    if kind == "target":
        return TARGET_EVENTS.get(status)
    return None
