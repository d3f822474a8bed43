"""CloudWatch alarms on a deployment group, polled while its deployments run.

An alarm in the ALARM state stops the deployment with ALARM_ACTIVE (and, if the group says so,
rolls it back). When the alarms cannot be read, `ignore_poll_alarm_failure` decides: carry on,
or stop as CodeDeploy does.

The group's `alarm_configuration` is {"enabled": true, "alarms": ["name", ...],
"ignore_poll_alarm_failure": false, "region": "eu-west-1", "endpoint_url": null}. Credentials
are the project's AWS connection's (deployments.integration_points.aws_for_project).
"""

from __future__ import annotations

import logging

from .. import integration_points
from ..models import Deployment, DeploymentStatus, ErrorCode
from .control import request_stop

log = logging.getLogger(__name__)


def read_alarm_states(config: dict, project=None) -> dict[str, str]:
    from botocore.config import Config

    client = integration_points.aws_for_project(
        project,
        region=config.get("region") or None,
        endpoint_url=config.get("endpoint_url") or None,
        # A poll must not hang the beat queue: fail fast, the next poll comes in seconds.
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"}),
    ).client("cloudwatch")
    names = list(config.get("alarms") or [])
    states: dict[str, str] = {}
    for start in range(0, len(names), 100):
        answer = client.describe_alarms(AlarmNames=names[start : start + 100])
        for alarm in answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", []):
            states[alarm["AlarmName"]] = alarm["StateValue"]
    return states


def check(deployment: Deployment) -> str | None:
    """Stop the deployment if one of its alarms fires; return why, or None."""
    config = deployment.deployment_group.alarm_configuration or {}
    if not config.get("enabled") or not config.get("alarms"):
        return None
    try:
        states = read_alarm_states(config, deployment.deployment_group.application.project_id)
    except Exception as exc:
        if config.get("ignore_poll_alarm_failure"):
            log.warning("alarms of %s could not be read (ignored): %s", deployment.id, exc)
            return None
        reason = f"The deployment's alarms could not be read ({exc}), and ignore_poll_alarm_failure is off."
        request_stop(deployment.id, by=reason, error_code=ErrorCode.ALARM_ACTIVE)
        return reason
    firing = sorted(name for name, state in states.items() if state == "ALARM")
    missing = sorted(set(config["alarms"]) - set(states))
    if missing and not config.get("ignore_poll_alarm_failure"):
        reason = f"Alarm(s) not found: {', '.join(missing)}."
        request_stop(deployment.id, by=reason, error_code=ErrorCode.ALARM_ACTIVE)
        return reason
    if firing:
        reason = f"Alarm {', '.join(firing)} is in the ALARM state."
        request_stop(deployment.id, by=reason, error_code=ErrorCode.ALARM_ACTIVE)
        return reason
    return None


def poll_all() -> int:
    """One round over every running deployment whose group watches alarms. Returns how many stopped.

    Rollbacks are left alone: a rollback is the remedy for the alarm (often the very alarm that
    stopped the deployment it undoes, still firing until the good revision is back), so stopping it
    for that alarm would leave the group on the bad revision."""
    running = Deployment.objects.filter(
        status__in=(DeploymentStatus.IN_PROGRESS, DeploymentStatus.READY, DeploymentStatus.BAKING),
        deployment_group__alarm_configuration__enabled=True,
        rollback_of__isnull=True,
    ).select_related("deployment_group__application")
    return sum(1 for deployment in running if check(deployment))
