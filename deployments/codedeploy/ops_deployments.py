"""Deployments: Create, Get, List, BatchGet, Stop and Continue, through the rollout core's own functions."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count

from deployments import engine
from deployments.engine import DeploymentError
from deployments.models import (
    Deployment,
    DeploymentTarget,
    ErrorCode,
    InstanceGroupState,
    TargetStatus,
)
from deployments.rollout.rollback import ON_REQUEST
from projects.models import Role

from . import groupmap, lookup, protocol, revisionmap
from .protocol import CodeDeployError
from .registry import Caller, operation

_ERROR_CODES = frozenset(protocol.service_model().shape_for("ErrorCode").enum)
OVERVIEW = ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")
DEPLOYMENT_BATCH_LIMIT = 25


def _rollback_events(deployment: Deployment) -> list[str]:
    if deployment.auto_rollback_events is not None:
        return list(deployment.auto_rollback_events)
    return list(deployment.deployment_group.auto_rollback_events or [])


def info(deployment: Deployment, counts: dict[str, int]) -> dict:
    group = deployment.deployment_group
    events = _rollback_events(deployment)
    result = {
        "applicationName": deployment.application.name,
        "deploymentGroupName": group.name,
        "deploymentConfigName": deployment.deployment_config.name,
        "deploymentId": deployment.pk,
        "revision": revisionmap.location_of(deployment.revision),
        "status": deployment.status,
        "createTime": deployment.created_at,
        "startTime": deployment.started_at,
        "completeTime": deployment.ended_at,
        "deploymentOverview": {key: counts.get(key, 0) for key in OVERVIEW},
        "description": deployment.description or None,
        "creator": deployment.creator,
        "ignoreApplicationStopFailures": deployment.ignore_application_stop_failures,
        "autoRollbackConfiguration": {"enabled": bool(events), "events": events},
        "updateOutdatedInstancesOnly": deployment.instance_ids is not None,
        "deploymentStyle": {
            "deploymentType": group.deployment_style,
            "deploymentOption": group.deployment_option,
        },
        "fileExistsBehavior": deployment.file_exists_behavior,
        "computePlatform": lookup.COMPUTE_PLATFORM,
    }
    if deployment.error_code or deployment.error_message:
        code = deployment.error_code if deployment.error_code in _ERROR_CODES else "INTERNAL_ERROR"
        result["errorInformation"] = {"code": code, "message": deployment.error_message or code}
    rollback = {}
    if deployment.rollback_of_id:
        rollback["rollbackTriggeringDeploymentId"] = deployment.rollback_of_id
    with contextlib.suppress(ObjectDoesNotExist):
        rollback["rollbackDeploymentId"] = deployment.rolled_back_by.pk
    if rollback:
        result["rollbackInfo"] = rollback
    shaped = groupmap.out(group)
    for member in ("loadBalancerInfo", "blueGreenDeploymentConfiguration"):
        if member in shaped:
            result[member] = shaped[member]
    return result


def _counts(ids: list[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    rows = (
        DeploymentTarget.objects.filter(deployment_id__in=ids)
        .values("deployment_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts.setdefault(row["deployment_id"], {})[row["status"]] = row["n"]
    return counts


def _queryset(caller: Caller):
    return lookup.deployments(caller).select_related(
        "application",
        "deployment_group__codedeploy_settings",
        "deployment_config",
        "revision",
        "rolled_back_by",
    )


def _outdated(group, revision) -> list[int]:
    """Hosts of the group that do not run `revision` successfully yet (updateOutdatedInstancesOnly)."""
    hosts = engine.matching_instances(group)
    current = set(
        InstanceGroupState.objects.filter(
            group=group,
            instance__in=[h.pk for h in hosts],
            revision=revision,
            last_status=TargetStatus.SUCCEEDED,
        ).values_list("instance_id", flat=True)
    )
    return [h.pk for h in hosts if h.pk not in current]


_REFUSALS = {
    "revision": "InvalidRevisionException",
    "deployment_config": "DeploymentConfigDoesNotExistException",
}


@operation("CreateDeployment", role=Role.CONTRIBUTOR)
def create_deployment(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params["applicationName"])
    group = lookup.group(application, params.get("deploymentGroupName"))
    for member, error in (
        ("targetInstances", "InvalidTargetInstancesException"),
        ("overrideAlarmConfiguration", "InvalidAlarmConfigException"),
    ):
        if params.get(member):
            raise CodeDeployError(error, f"Fleetdeck does not support {member}; see docs/codedeploy-api.md.")
    description = params.get("description", "")
    if len(description) > 500:
        raise CodeDeployError("DescriptionTooLongException", "description must be at most 500 characters.")
    config = (
        lookup.config(caller, params["deploymentConfigName"]) if params.get("deploymentConfigName") else None
    )
    revision = revisionmap.register(application, params.get("revision"), caller.user)
    rollback = params.get("autoRollbackConfiguration")
    events = (
        None
        if rollback is None
        else (sorted(set(rollback.get("events", []))) if rollback.get("enabled") else [])
    )
    instance_ids = _outdated(group, revision) if params.get("updateOutdatedInstancesOnly") else None
    try:
        deployment = engine.create_deployment(
            group=group,
            revision=revision,
            config=config,
            user=caller.user,
            description=description,
            file_exists_behavior=params.get("fileExistsBehavior"),
            ignore_application_stop_failures=params.get("ignoreApplicationStopFailures"),
            auto_rollback_events=events,
            instance_ids=instance_ids,
        )
    except DeploymentError as exc:
        error = "RevisionDoesNotExistException" if exc.code == ErrorCode.REVISION_MISSING else None
        raise CodeDeployError(
            error or _REFUSALS.get(exc.field or "", "InvalidInputException"), exc.message
        ) from None
    return {"deploymentId": deployment.pk}


@operation("GetDeployment")
def get_deployment(caller: Caller, params: dict) -> dict:
    deployment = lookup.deployment(caller, params["deploymentId"], _queryset(caller))
    return {"deploymentInfo": info(deployment, _counts([deployment.pk]).get(deployment.pk, {}))}


@operation("BatchGetDeployments")
def batch_get_deployments(caller: Caller, params: dict) -> dict:
    ids = lookup.batch(params["deploymentIds"], DEPLOYMENT_BATCH_LIMIT)
    for deployment_id in ids:
        if not lookup.DEPLOYMENT_ID.match(deployment_id):
            raise CodeDeployError(
                "InvalidDeploymentIdException", f"{deployment_id[:40]!r} is not a deployment id."
            )
    found = {d.pk: d for d in _queryset(caller).filter(pk__in=ids)}
    counts = _counts(list(found))
    return {"deploymentsInfo": [info(found[i], counts.get(i, {})) for i in ids if i in found]}


@operation("ListDeployments")
def list_deployments(caller: Caller, params: dict) -> dict:
    rows = lookup.deployments(caller)
    if params.get("applicationName"):
        application = lookup.application(caller, params["applicationName"])
        rows = rows.filter(application=application)
        if params.get("deploymentGroupName"):
            rows = rows.filter(deployment_group=lookup.group(application, params["deploymentGroupName"]))
    elif params.get("deploymentGroupName"):
        raise CodeDeployError(
            "ApplicationNameRequiredException", "deploymentGroupName needs applicationName."
        )
    if statuses := params.get("includeOnlyStatuses"):
        rows = rows.filter(status__in=statuses)
    if time_range := params.get("createTimeRange"):
        if time_range.get("start") and time_range.get("end") and time_range["start"] > time_range["end"]:
            raise CodeDeployError("InvalidTimeRangeException", "createTimeRange starts after it ends.")
        if time_range.get("start"):
            rows = rows.filter(created_at__gte=time_range["start"])
        if time_range.get("end"):
            rows = rows.filter(created_at__lte=time_range["end"])
    ids = rows.order_by("-created_at", "-id").values_list("id", flat=True)
    chunk, token = lookup.page(ids, params, settings.CODEDEPLOY_PAGE_SIZE)
    return {"deployments": chunk, "nextToken": token}


@operation("StopDeployment", role=Role.CONTRIBUTOR)
def stop_deployment(caller: Caller, params: dict) -> dict:
    deployment = lookup.deployment(caller, params["deploymentId"], _queryset(caller))
    if deployment.is_terminal:
        raise CodeDeployError(
            "DeploymentAlreadyCompletedException",
            f"Deployment {deployment.pk} already finished ({deployment.status}).",
        )
    if "autoRollbackEnabled" in params:
        events = set(_rollback_events(deployment))
        events = events | {ON_REQUEST} if params["autoRollbackEnabled"] else events - {ON_REQUEST}
        Deployment.objects.filter(pk=deployment.pk).update(auto_rollback_events=sorted(events))
    if not engine.request_stop(deployment.pk, by=caller.user.get_username()):
        raise CodeDeployError(
            "DeploymentAlreadyCompletedException", f"Deployment {deployment.pk} already finished."
        )
    deployment.refresh_from_db(fields=["status"])
    done = deployment.is_terminal
    return {
        "status": "Succeeded" if done else "Pending",
        "statusMessage": f"Deployment {deployment.pk} is {deployment.status}."
        if done
        else "Stopping: hosts not started are skipped; running lifecycle events finish first.",
    }


@operation("ContinueDeployment", role=Role.CONTRIBUTOR)
def continue_deployment(caller: Caller, params: dict) -> dict:
    deployment = lookup.deployment(caller, params.get("deploymentId"))
    if params.get("deploymentWaitType", "READY_WAIT") != "READY_WAIT":
        raise CodeDeployError(
            "InvalidDeploymentWaitTypeException",
            "Only READY_WAIT can be continued; the originals' termination wait ends by itself.",
        )
    if not engine.continue_deployment(deployment.pk):
        deployment.refresh_from_db(fields=["status"])
        raise CodeDeployError(
            "DeploymentIsNotInReadyStateException",
            f"Deployment {deployment.pk} is {deployment.status}; only a blue/green deployment waiting in Ready "
            "can be continued.",
        )
    return {}
