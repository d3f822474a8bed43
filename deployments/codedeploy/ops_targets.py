"""A deployment's instances and targets, with their lifecycle events and diagnostics.

An instance's id and a target's id are its Fleetdeck name (on-premises instances are named in
CodeDeploy too). Blue/green roles read as CodeDeploy's labels: originals are Blue, replacements Green.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Prefetch

from deployments.models import DeploymentTarget, LifecycleEvent, ScriptErrorCode

from . import lookup
from .protocol import CodeDeployError
from .registry import Caller, operation

_LABELS = {"original": "Blue", "replacement": "Green"}
_ROLES = {label: role for role, label in _LABELS.items()}
_SCRIPT_CODES = frozenset(code for code in ScriptErrorCode.values if code != ScriptErrorCode.AGENT_ISSUE)


def _event(event: LifecycleEvent) -> dict:
    shaped = {
        "lifecycleEventName": event.name,
        "startTime": event.started_at,
        "endTime": event.ended_at,
        "status": event.status,
    }
    if event.error_code or event.message or event.log_tail or event.script_name:
        shaped["diagnostics"] = {
            "errorCode": event.error_code if event.error_code in _SCRIPT_CODES else "UnknownError",
            "scriptName": event.script_name,
            "message": event.message,
            "logTail": event.log_tail,
        }
    return shaped


def _updated(target: DeploymentTarget):
    return target.ended_at or target.started_at or target.deployment.created_at


def summary(target: DeploymentTarget) -> dict:
    return {
        "deploymentId": target.deployment_id,
        "instanceId": target.instance.name,
        "status": target.status,
        "lastUpdatedAt": _updated(target),
        "lifecycleEvents": [_event(e) for e in target.events.all()],
        "instanceType": _LABELS.get(target.role),
    }


def instance_target(caller: Caller, target: DeploymentTarget) -> dict:
    return {
        "deploymentTargetType": "InstanceTarget",
        "instanceTarget": {
            "deploymentId": target.deployment_id,
            "targetId": target.instance.name,
            "targetArn": lookup.instance_arn(caller, target.instance.name),
            "status": target.status,
            "lastUpdatedAt": _updated(target),
            "lifecycleEvents": [_event(e) for e in target.events.all()],
            "instanceLabel": _LABELS.get(target.role),
        },
    }


def _targets(deployment):
    return (
        DeploymentTarget.objects.filter(deployment=deployment)
        .select_related("instance", "deployment")
        .prefetch_related(Prefetch("events", queryset=LifecycleEvent.objects.order_by("position")))
        .order_by("position", "id")
    )


def _named(caller: Caller, params: dict, names: list[str], missing_error: str) -> list[DeploymentTarget]:
    deployment = lookup.deployment(caller, params.get("deploymentId"))
    found = {t.instance.name: t for t in _targets(deployment).filter(instance__name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise CodeDeployError(missing_error, f"{missing[0]} is not a target of deployment {deployment.pk}.")
    return [found[n] for n in names]


def _names(caller: Caller, params: dict, statuses, labels) -> tuple[list[str], str | None]:
    """One page of the names of a deployment's targets, filtered by status and Blue/Green label."""
    deployment = lookup.deployment(caller, params.get("deploymentId"))
    rows = DeploymentTarget.objects.filter(deployment=deployment).order_by("position", "id")
    if statuses:
        rows = rows.filter(status__in=statuses)
    if labels:
        unknown = [label for label in labels if label not in _ROLES]
        if unknown:
            raise CodeDeployError("InvalidTargetFilterNameException", f"{unknown[0]} is not Blue or Green.")
        rows = rows.filter(role__in=[_ROLES[label] for label in labels])
    return lookup.page(rows.values_list("instance__name", flat=True), params, settings.CODEDEPLOY_PAGE_SIZE)


@operation("ListDeploymentInstances")
def list_deployment_instances(caller: Caller, params: dict) -> dict:
    chunk, token = _names(
        caller, params, params.get("instanceStatusFilter"), params.get("instanceTypeFilter")
    )
    return {"instancesList": chunk, "nextToken": token}


@operation("GetDeploymentInstance")
def get_deployment_instance(caller: Caller, params: dict) -> dict:
    if not params.get("instanceId"):
        raise CodeDeployError("InstanceIdRequiredException", "Give instanceId.")
    (target,) = _named(caller, params, [params["instanceId"]], "InstanceDoesNotExistException")
    return {"instanceSummary": summary(target)}


@operation("BatchGetDeploymentInstances")
def batch_get_deployment_instances(caller: Caller, params: dict) -> dict:
    names = lookup.batch(params["instanceIds"])
    deployment = lookup.deployment(caller, params["deploymentId"])
    found = {t.instance.name: t for t in _targets(deployment).filter(instance__name__in=names)}
    missing = [n for n in names if n not in found]
    return {
        "instancesSummary": [summary(found[n]) for n in names if n in found],
        "errorMessage": f"Not targets of {deployment.pk}: {', '.join(missing)}." if missing else None,
    }


@operation("ListDeploymentTargets")
def list_deployment_targets(caller: Caller, params: dict) -> dict:
    filters = params.get("targetFilters") or {}
    chunk, token = _names(caller, params, filters.get("TargetStatus"), filters.get("ServerInstanceLabel"))
    return {"targetIds": chunk, "nextToken": token}


@operation("GetDeploymentTarget")
def get_deployment_target(caller: Caller, params: dict) -> dict:
    if not params.get("targetId"):
        raise CodeDeployError("DeploymentTargetIdRequiredException", "Give targetId.")
    (target,) = _named(caller, params, [params["targetId"]], "DeploymentTargetDoesNotExistException")
    return {"deploymentTarget": instance_target(caller, target)}


@operation("BatchGetDeploymentTargets")
def batch_get_deployment_targets(caller: Caller, params: dict) -> dict:
    names = params.get("targetIds") or []
    if len(names) > 25:
        raise CodeDeployError("DeploymentTargetListSizeExceededException", "Give at most 25 targetIds.")
    targets = _named(caller, params, list(dict.fromkeys(names)), "DeploymentTargetDoesNotExistException")
    return {"deploymentTargets": [instance_target(caller, t) for t in targets]}
