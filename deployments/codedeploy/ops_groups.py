"""Deployment groups: Create, Get, List, BatchGet, Update and Delete, through the REST API's serializer."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from deployments.api.applications import running_deployment
from deployments.api.serializers.applications import DeploymentGroupSerializer
from deployments.models import Deployment, DeploymentGroup, DeploymentStatus
from projects.models import Role

from . import errors, groupmap, lookup
from .protocol import CodeDeployError
from .registry import Caller, operation
from .revisionmap import location_of

_FIELDS = {
    "name": "InvalidDeploymentGroupNameException",
    "deployment_config": "DeploymentConfigDoesNotExistException",
    "tag_filters": "InvalidTagException",
    "tag_set": "InvalidTagException",
    "auto_rollback_events": "InvalidAutoRollbackConfigException",
    "alarm_configuration": "InvalidAlarmConfigException",
    "load_balancer_info": "InvalidLoadBalancerInfoException",
    "blue_green_configuration": "InvalidBlueGreenDeploymentConfigurationException",
    "deployment_style": "InvalidDeploymentStyleException",
    "deployment_option": "InvalidDeploymentStyleException",
}
_NAMES = {
    "name": "deploymentGroupName",
    "deployment_config": "deploymentConfigName",
    "tag_filters": "tag filters",
    "tag_set": "tag set",
    "auto_rollback_events": "autoRollbackConfiguration",
    "alarm_configuration": "alarmConfiguration",
    "load_balancer_info": "loadBalancerInfo",
    "blue_green_configuration": "blueGreenDeploymentConfiguration",
    "deployment_style": "deploymentStyle",
    "deployment_option": "deploymentStyle",
    "outdated_instances_strategy": "outdatedInstancesStrategy",
}


def _summary(deployment: Deployment | None) -> dict | None:
    if deployment is None:
        return None
    return {
        "deploymentId": deployment.pk,
        "status": deployment.status,
        "endTime": deployment.ended_at,
        "createTime": deployment.created_at,
    }


def info(group: DeploymentGroup) -> dict:
    deployments = (
        Deployment.objects.filter(deployment_group=group).select_related("revision").order_by("-created_at")
    )
    last = deployments.first()
    succeeded = deployments.filter(status=DeploymentStatus.SUCCEEDED).first()
    return {
        "applicationName": group.application.name,
        "deploymentGroupId": str(group.group_id),
        "deploymentGroupName": group.name,
        "deploymentConfigName": group.deployment_config.name,
        **groupmap.out(group),
        "targetRevision": location_of(last.revision) if last else None,
        "lastSuccessfulDeployment": _summary(succeeded),
        "lastAttemptedDeployment": _summary(last),
        "computePlatform": lookup.COMPUTE_PLATFORM,
    }


def _save(serializer: DeploymentGroupSerializer, caller: Caller, params: dict, **kwargs) -> DeploymentGroup:
    if not serializer.is_valid():
        raise errors.from_serializer(
            serializer.errors, _FIELDS, taken="DeploymentGroupAlreadyExistsException", names=_NAMES
        )
    try:
        with transaction.atomic():
            group = serializer.save(**kwargs)
            groupmap.keep(group, params)
    except IntegrityError:
        raise CodeDeployError(
            "DeploymentGroupAlreadyExistsException", "A deployment group of that name was created meanwhile."
        ) from None
    return group


@operation("CreateDeploymentGroup", role=Role.CONTRIBUTOR)
def create_deployment_group(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params["applicationName"])
    groupmap.check_triggers(params)
    name = params["deploymentGroupName"]
    data = {"name": name, **groupmap.tags_in(params), **groupmap.config_in(params, name)}
    data.setdefault("tag_filters", [])
    serializer = DeploymentGroupSerializer(data=data, context={"application": application})
    group = _save(serializer, caller, params, application=application)
    return {"deploymentGroupId": str(group.group_id)}


@operation("UpdateDeploymentGroup", role=Role.CONTRIBUTOR)
def update_deployment_group(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params["applicationName"])
    group = lookup.group(application, params["currentDeploymentGroupName"])
    groupmap.check_triggers(params)
    name = params.get("newDeploymentGroupName") or group.name
    data = {**groupmap.tags_in(params), **groupmap.config_in(params, name)}
    if name != group.name:
        data["name"] = name
    serializer = DeploymentGroupSerializer(
        group, data=data, partial=True, context={"application": application}
    )
    _save(serializer, caller, params)
    return {"hooksNotCleanedUp": []}


@operation("GetDeploymentGroup")
def get_deployment_group(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params["applicationName"])
    return {"deploymentGroupInfo": info(lookup.group(application, params["deploymentGroupName"]))}


@operation("ListDeploymentGroups")
def list_deployment_groups(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params["applicationName"])
    names = (
        DeploymentGroup.objects.filter(application=application)
        .order_by("name")
        .values_list("name", flat=True)
    )
    chunk, token = lookup.page(names, params, settings.CODEDEPLOY_PAGE_SIZE)
    return {"applicationName": application.name, "deploymentGroups": chunk, "nextToken": token}


@operation("BatchGetDeploymentGroups")
def batch_get_deployment_groups(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params["applicationName"])
    names = lookup.batch(params["deploymentGroupNames"])
    found = {
        g.name: g
        for g in DeploymentGroup.objects.filter(application=application, name__in=names).select_related(
            "application", "deployment_config", "codedeploy_settings"
        )
    }
    missing = [n for n in names if n not in found]
    return {
        "deploymentGroupsInfo": [info(found[n]) for n in names if n in found],
        "errorMessage": f"No deployment group named {', '.join(missing)}." if missing else None,
    }


@operation("DeleteDeploymentGroup", role=Role.CONTRIBUTOR)
def delete_deployment_group(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params["applicationName"])
    group = DeploymentGroup.objects.filter(
        application=application, name=params["deploymentGroupName"]
    ).first()
    if group is None:
        return {"hooksNotCleanedUp": []}
    active = running_deployment(group)
    if active:
        raise CodeDeployError(
            "InvalidOperationException", f"Deployment {active} is still running in {group}; stop it first."
        )
    group.delete()
    return {"hooksNotCleanedUp": []}
