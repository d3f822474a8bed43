"""Rows of the caller's project by their CodeDeploy names, paging tokens, and shared shapes.

Every lookup is within the access key's project: another project's rows read as missing, with the
same words as a name that exists nowhere (as another AWS account's would).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re

from django.db.models import QuerySet

from deployments.models import (
    Application,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    Instance,
)

from .protocol import CodeDeployError
from .registry import Caller

COMPUTE_PLATFORM = "Server"
DEPLOYMENT_ID = re.compile(r"^d-[A-Z0-9]{9}$")
BATCH_LIMIT = 100


def application(caller: Caller, name: str | None) -> Application:
    if not name:
        raise CodeDeployError("ApplicationNameRequiredException", "Give applicationName.")
    found = Application.objects.filter(project=caller.project, name=name).first()
    if found is None:
        raise CodeDeployError("ApplicationDoesNotExistException", f"No application named {name}.")
    return found


def group(application: Application, name: str | None) -> DeploymentGroup:
    if not name:
        raise CodeDeployError("DeploymentGroupNameRequiredException", "Give deploymentGroupName.")
    found = (
        DeploymentGroup.objects.filter(application=application, name=name)
        .select_related("application", "deployment_config")
        .first()
    )
    if found is None:
        raise CodeDeployError(
            "DeploymentGroupDoesNotExistException",
            f"{application.name} has no deployment group named {name}.",
        )
    return found


def config(caller: Caller, name: str | None) -> DeploymentConfig:
    if not name:
        raise CodeDeployError("DeploymentConfigNameRequiredException", "Give deploymentConfigName.")
    found = DeploymentConfig.usable_in(caller.project.pk).filter(name=name).first()
    if found is None:
        raise CodeDeployError("DeploymentConfigDoesNotExistException", f"No deployment config named {name}.")
    return found


def deployments(caller: Caller) -> QuerySet:
    return Deployment.objects.filter(application__project=caller.project)


def deployment(caller: Caller, deployment_id: str | None, queryset: QuerySet | None = None) -> Deployment:
    if not deployment_id:
        raise CodeDeployError("DeploymentIdRequiredException", "Give deploymentId.")
    if not DEPLOYMENT_ID.match(deployment_id):
        raise CodeDeployError(
            "InvalidDeploymentIdException", f"{deployment_id[:40]!r} is not a deployment id."
        )
    rows = queryset if queryset is not None else deployments(caller)
    found = rows.filter(pk=deployment_id).first()
    if found is None:
        raise CodeDeployError("DeploymentDoesNotExistException", f"No deployment {deployment_id}.")
    return found


def instances(caller: Caller) -> QuerySet:
    return Instance.objects.filter(project=caller.project)


def batch(names: list, limit: int = BATCH_LIMIT) -> list:
    if len(names) > limit:
        raise CodeDeployError("BatchLimitExceededException", f"Give at most {limit} names in one call.")
    return list(dict.fromkeys(names))


# --- paging: an opaque token holding the offset of the next page ---------------------------------


def page(rows, params: dict, size: int) -> tuple[list, str | None]:
    """One page of `rows` (a queryset or list) from the request's nextToken, and the next token."""
    token = params.get("nextToken")
    offset = 0
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("o:"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise CodeDeployError(
                "InvalidNextTokenException", "The nextToken is not one this server gave."
            ) from None
        if offset < 0:
            raise CodeDeployError("InvalidNextTokenException", "The nextToken is not one this server gave.")
    chunk = list(rows[offset : offset + size + 1])
    more = len(chunk) > size
    next_token = base64.urlsafe_b64encode(f"o:{offset + size}".encode()).decode() if more else None
    return chunk[:size], next_token


def in_range(value: dt.datetime | None, time_range: dict | None) -> bool:
    if not time_range:
        return True
    if value is None:
        return False
    start, end = time_range.get("start"), time_range.get("end")
    return (start is None or value >= start) and (end is None or value <= end)


def instance_arn(caller: Caller, name: str) -> str:
    return f"arn:fleetdeck:codedeploy::{caller.project.slug}:instance/{name}"


def application_arn(application: Application) -> str:
    return f"arn:fleetdeck:codedeploy::{application.project.slug}:application:{application.name}"
