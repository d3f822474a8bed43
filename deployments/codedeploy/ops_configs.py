"""Deployment configs: the three built-ins and the project's own minimum-healthy-hosts rules."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from deployments.api.serializers.configs import DeploymentConfigSerializer, name_taken
from deployments.models import Deployment, DeploymentConfig
from projects.models import Role

from . import errors, lookup
from .protocol import CodeDeployError
from .registry import Caller, operation

_FIELDS = {
    "name": "InvalidDeploymentConfigNameException",
    "minimum_healthy_hosts": "InvalidMinimumHealthyHostValueException",
}
_NAMES = {"name": "deploymentConfigName", "minimum_healthy_hosts": "minimumHealthyHosts"}


def info(config: DeploymentConfig) -> dict:
    return {
        "deploymentConfigId": str(config.pk),
        "deploymentConfigName": config.name,
        "minimumHealthyHosts": {"type": config.minimum_healthy_type, "value": config.minimum_healthy_value},
        "createTime": config.created_at,
        "computePlatform": lookup.COMPUTE_PLATFORM,
    }


@operation("CreateDeploymentConfig", role=Role.CONTRIBUTOR)
def create_deployment_config(caller: Caller, params: dict) -> dict:
    for member, error in (
        ("trafficRoutingConfig", "InvalidTrafficRoutingConfigurationException"),
        ("zonalConfig", "InvalidZonalDeploymentConfigurationException"),
    ):
        if params.get(member):
            raise CodeDeployError(error, f"Fleetdeck does not support {member}; see docs/codedeploy-api.md.")
    if params.get("computePlatform") not in (None, lookup.COMPUTE_PLATFORM):
        raise CodeDeployError("InvalidComputePlatformException", "computePlatform must be Server.")
    healthy = params.get("minimumHealthyHosts")
    if not healthy or "type" not in healthy or "value" not in healthy:
        raise CodeDeployError(
            "InvalidMinimumHealthyHostValueException", "Give minimumHealthyHosts with its type and value."
        )
    name = params["deploymentConfigName"]
    data = {
        "name": name,
        "project": caller.project.slug,
        "minimum_healthy_hosts": {"type": healthy["type"], "value": healthy["value"]},
    }
    serializer = DeploymentConfigSerializer(data=data, context={"request": caller.drf_request(data)})
    if not serializer.is_valid():
        raise errors.from_serializer(
            serializer.errors, _FIELDS, taken="DeploymentConfigAlreadyExistsException", names=_NAMES
        )
    if DeploymentConfig.objects.filter(builtin=True, name=name).exists():
        raise CodeDeployError(
            "DeploymentConfigAlreadyExistsException", f"{name} is a built-in configuration."
        )
    try:
        with transaction.atomic():
            config = serializer.save()
    except IntegrityError:
        raise CodeDeployError(
            "DeploymentConfigAlreadyExistsException", name_taken(caller.project, name)
        ) from None
    return {"deploymentConfigId": str(config.pk)}


@operation("GetDeploymentConfig")
def get_deployment_config(caller: Caller, params: dict) -> dict:
    return {"deploymentConfigInfo": info(lookup.config(caller, params.get("deploymentConfigName")))}


@operation("ListDeploymentConfigs")
def list_deployment_configs(caller: Caller, params: dict) -> dict:
    names = (
        DeploymentConfig.usable_in(caller.project.pk)
        .order_by("-builtin", "name")
        .values_list("name", flat=True)
    )
    chunk, token = lookup.page(names, params, settings.CODEDEPLOY_PAGE_SIZE)
    return {"deploymentConfigsList": chunk, "nextToken": token}


@operation("DeleteDeploymentConfig", role=Role.CONTRIBUTOR)
def delete_deployment_config(caller: Caller, params: dict) -> dict:
    name = params["deploymentConfigName"]
    if DeploymentConfig.objects.filter(builtin=True, name=name).exists():
        raise CodeDeployError(
            "InvalidOperationException", f"{name} is a built-in configuration and cannot be deleted."
        )
    config = DeploymentConfig.objects.filter(project=caller.project, builtin=False, name=name).first()
    if config is None:
        return {}
    groups = sorted(str(g) for g in config.groups.select_related("application"))
    if groups:
        raise CodeDeployError(
            "DeploymentConfigInUseException", f"{name} is used by deployment group(s) {', '.join(groups)}."
        )
    if Deployment.objects.filter(deployment_config=config).exists():
        raise CodeDeployError("DeploymentConfigInUseException", f"{name} is used by past deployments.")
    config.delete()
    return {}
