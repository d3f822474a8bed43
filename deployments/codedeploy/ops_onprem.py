"""On-premises instances: Fleetdeck's registered agents, their tags read and edited."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from deployments import planner
from deployments.api.serializers.fleet import InstanceSerializer
from deployments.models import Instance
from projects.models import Role

from . import errors, lookup
from .protocol import CodeDeployError
from .registry import Caller, operation


def info(caller: Caller, instance: Instance) -> dict:
    return {
        "instanceName": instance.name,
        "instanceArn": lookup.instance_arn(caller, instance.name),
        "registerTime": instance.registered_at,
        "deregisterTime": instance.deregistered_at,
        "tags": [{"Key": k, "Value": v} for k, v in sorted((instance.tags or {}).items())],
    }


def _current(caller: Caller, names: list[str]) -> dict[str, Instance]:
    """Per name, the live instance, else the one deregistered last."""
    found: dict[str, Instance] = {}
    rows = lookup.instances(caller).filter(name__in=names).order_by("name", "-registered_at", "-pk")
    for row in rows:
        best = found.get(row.name)
        if best is None or (best.deregistered_at is not None and row.deregistered_at is None):
            found[row.name] = row
    return found


@operation("ListOnPremisesInstances")
def list_on_premises_instances(caller: Caller, params: dict) -> dict:
    rows = lookup.instances(caller).order_by("name", "-registered_at")
    status = params.get("registrationStatus")
    if status == "Registered":
        rows = rows.filter(deregistered_at__isnull=True)
    elif status == "Deregistered":
        rows = rows.filter(deregistered_at__isnull=False)
    filters = [
        {"key": f.get("Key", ""), "value": f.get("Value", ""), "type": f.get("Type", "KEY_AND_VALUE")}
        for f in params.get("tagFilters") or []
    ]
    for index, tag_filter in enumerate(filters):
        if problem := planner.validate_tag_filter(tag_filter):
            raise CodeDeployError("InvalidTagFilterException", f"tagFilters[{index}]: {problem}.")
    names = list(
        dict.fromkeys(
            i.name
            for i in rows.only("name", "tags")
            if not filters or planner.matches_tags(i.tags or {}, filters, [])
        )
    )
    chunk, token = lookup.page(names, params, settings.CODEDEPLOY_PAGE_SIZE)
    return {"instanceNames": chunk, "nextToken": token}


@operation("GetOnPremisesInstance")
def get_on_premises_instance(caller: Caller, params: dict) -> dict:
    name = params.get("instanceName")
    if not name:
        raise CodeDeployError("InstanceNameRequiredException", "Give instanceName.")
    found = _current(caller, [name])
    if name not in found:
        raise CodeDeployError("InstanceNotRegisteredException", f"No instance named {name} is registered.")
    return {"instanceInfo": info(caller, found[name])}


@operation("BatchGetOnPremisesInstances")
def batch_get_on_premises_instances(caller: Caller, params: dict) -> dict:
    names = lookup.batch(params.get("instanceNames") or [])
    found = _current(caller, names)
    return {"instanceInfos": [info(caller, found[n]) for n in names if n in found]}


def _retag(caller: Caller, params: dict, change) -> dict:
    names = lookup.batch(params.get("instanceNames") or [])
    if not names:
        raise CodeDeployError("InstanceNameRequiredException", "Give instanceNames.")
    with transaction.atomic():
        found = _current(caller, names)
        missing = [n for n in names if n not in found or found[n].deregistered_at is not None]
        if missing:
            raise CodeDeployError(
                "InstanceNotRegisteredException", f"No instance named {missing[0]} is registered."
            )
        for name in names:
            instance = found[name]
            serializer = InstanceSerializer(
                instance, data={"tags": change(dict(instance.tags or {}))}, partial=True
            )
            if not serializer.is_valid():
                raise errors.from_serializer(serializer.errors, {}, default="InvalidTagException")
            serializer.save()
    return {}


def _pairs(params: dict) -> list[tuple[str, str]]:
    tags = params.get("tags") or []
    if not tags:
        raise CodeDeployError("TagRequiredException", "Give at least one tag.")
    return [(t.get("Key", ""), t.get("Value", "")) for t in tags]


@operation("AddTagsToOnPremisesInstances", role=Role.CONTRIBUTOR)
def add_tags(caller: Caller, params: dict) -> dict:
    pairs = _pairs(params)
    if any(not key for key, _ in pairs):
        raise CodeDeployError("InvalidTagException", "Every tag needs a Key.")
    return _retag(caller, params, lambda tags: {**tags, **dict(pairs)})


@operation("RemoveTagsFromOnPremisesInstances", role=Role.CONTRIBUTOR)
def remove_tags(caller: Caller, params: dict) -> dict:
    pairs = _pairs(params)

    def without(tags: dict) -> dict:
        for key, value in pairs:
            if key in tags and (not value or tags[key] == value):
                del tags[key]
        return tags

    return _retag(caller, params, without)
