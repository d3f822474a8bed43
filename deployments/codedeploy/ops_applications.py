"""Applications: Create, Get, List, BatchGet, Update (rename) and Delete."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from deployments.api.serializers.applications import ApplicationSerializer
from deployments.models import Application
from deployments.models.application import NAME_VALIDATOR
from projects.models import Role

from . import errors, lookup
from .protocol import CodeDeployError
from .registry import Caller, operation

_FIELDS = {"name": "InvalidApplicationNameException"}
_NAMES = {"name": "applicationName"}


def info(application: Application) -> dict:
    return {
        "applicationId": str(application.pk),
        "applicationName": application.name,
        "createTime": application.created_at,
        "linkedToGitHub": bool(application.project and application.project.repository),
        "computePlatform": lookup.COMPUTE_PLATFORM,
    }


def _platform(params: dict) -> None:
    platform = params.get("computePlatform")
    if platform not in (None, lookup.COMPUTE_PLATFORM):
        raise CodeDeployError(
            "InvalidComputePlatformException",
            f"Fleetdeck deploys to servers (EC2 and on-premises): computePlatform must be Server, not {platform}.",
        )


@operation("CreateApplication", role=Role.CONTRIBUTOR)
def create_application(caller: Caller, params: dict) -> dict:
    _platform(params)
    data = {"name": params["applicationName"], "project": caller.project.slug}
    serializer = ApplicationSerializer(data=data, context={"request": caller.drf_request(data)})
    if not serializer.is_valid():
        raise errors.from_serializer(
            serializer.errors, _FIELDS, taken="ApplicationAlreadyExistsException", names=_NAMES
        )
    try:
        with transaction.atomic():
            application = serializer.save(created_by=caller.user)
    except IntegrityError:  # created meanwhile by a concurrent request
        raise CodeDeployError(
            "ApplicationAlreadyExistsException",
            f"{caller.project.slug} already has an application named {data['name']}.",
        ) from None
    return {"applicationId": str(application.pk)}


@operation("GetApplication")
def get_application(caller: Caller, params: dict) -> dict:
    return {"application": info(lookup.application(caller, params.get("applicationName")))}


@operation("ListApplications")
def list_applications(caller: Caller, params: dict) -> dict:
    names = Application.objects.filter(project=caller.project).order_by("name").values_list("name", flat=True)
    chunk, token = lookup.page(names, params, settings.CODEDEPLOY_PAGE_SIZE)
    return {"applications": chunk, "nextToken": token}


@operation("BatchGetApplications")
def batch_get_applications(caller: Caller, params: dict) -> dict:
    names = lookup.batch(params.get("applicationNames", []))
    found = {a.name: a for a in Application.objects.filter(project=caller.project, name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        raise CodeDeployError("ApplicationDoesNotExistException", f"No application named {missing[0]}.")
    return {"applicationsInfo": [info(found[name]) for name in names]}


@operation("UpdateApplication", role=Role.CONTRIBUTOR)
def update_application(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params.get("applicationName"))
    new_name = params.get("newApplicationName")
    if not new_name or new_name == application.name:
        return {}
    try:
        NAME_VALIDATOR(new_name)
    except Exception as exc:
        raise CodeDeployError(
            "InvalidApplicationNameException", f"newApplicationName: {exc.messages[0]}"
        ) from None
    try:
        with transaction.atomic():
            updated = Application.objects.filter(pk=application.pk).update(name=new_name)
    except IntegrityError:
        raise CodeDeployError(
            "ApplicationAlreadyExistsException",
            f"{caller.project.slug} already has an application named {new_name}.",
        ) from None
    if not updated:
        raise CodeDeployError("ApplicationDoesNotExistException", f"No application named {application.name}.")
    return {}


@operation("DeleteApplication", role=Role.OWNER)
def delete_application(caller: Caller, params: dict) -> dict:
    application = Application.objects.filter(project=caller.project, name=params["applicationName"]).first()
    if application is None:
        return {}  # as CodeDeploy: deleting what is not there succeeds
    if application.deployments.exists():
        raise CodeDeployError(
            "InvalidOperationException",
            f"{application.name} has deployments; Fleetdeck keeps their history, so it cannot be deleted.",
        )
    try:
        application.delete()
    except ProtectedError as exc:
        raise CodeDeployError(
            "InvalidOperationException", f"{application.name} is still in use: {exc.args[0]}"
        ) from None
    return {}
