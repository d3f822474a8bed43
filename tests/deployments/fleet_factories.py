"""Small helpers that each make one object, plus an "agent" that drives commands through the engine.

The agent helpers call the same engine functions the agent API calls, with the HostCommand id and
the Instance, so the engine tests exercise the real orchestration path end to end (Celery eager).
"""

from __future__ import annotations

import itertools

from deployments import engine
from deployments.models import (
    ALL_AT_ONCE,
    HALF_AT_A_TIME,
    ONE_AT_A_TIME,
    Application,
    CommandStatus,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    HostCommand,
    Instance,
    Revision,
)

_counter = itertools.count(1)

__all__ = [
    "ALL_AT_ONCE",
    "HALF_AT_A_TIME",
    "ONE_AT_A_TIME",
    "complete",
    "deploy",
    "finish_host",
    "issued",
    "make_app",
    "make_config",
    "make_group",
    "make_instance",
    "make_revision",
    "refresh",
]


def make_app(name: str = "shop") -> Application:
    return Application.objects.create(name=name)


def make_config(name: str, kind: str = "HOST_COUNT", value: int = 0) -> DeploymentConfig:
    """A custom config; the three built-ins already exist (see builtin_config)."""
    return DeploymentConfig.objects.create(name=name, minimum_healthy_type=kind, minimum_healthy_value=value)


def builtin_config(name: str) -> DeploymentConfig:
    return DeploymentConfig.objects.get(name=name)


def make_group(
    app: Application,
    *,
    config: str | DeploymentConfig = ONE_AT_A_TIME,
    name: str = "web",
    tags: dict[str, str] | None = None,
    tag_filters: list[dict] | None = None,
    tag_set: list[list[dict]] | None = None,
) -> DeploymentGroup:
    """A group matching `tags` (each key=value, ORed) unless explicit filters are given."""
    if isinstance(config, str):
        config = builtin_config(config)
    if tag_filters is None and tag_set is None:
        tags = tags if tags is not None else {"role": name}
        tag_filters = [{"key": k, "value": v, "type": "KEY_AND_VALUE"} for k, v in tags.items()]
    return DeploymentGroup.objects.create(
        application=app,
        name=name,
        deployment_config=config,
        tag_filters=tag_filters or [],
        tag_set=tag_set or [],
    )


def make_instance(name: str, **tags: str) -> Instance:
    """An online instance; its raw credential is kept on `.credential` for API tests."""
    instance = Instance(name=name, tags=tags)
    raw = instance.rotate_credential()
    instance.save()
    instance.credential = raw
    return instance


def make_revision(app: Application, **fields) -> Revision:
    fields.setdefault("bundle_type", "zip")
    fields.setdefault("sha256", f"{next(_counter):064x}")
    return Revision.objects.create(application=app, **fields)


def deploy(group: DeploymentGroup, revision: Revision, **kwargs) -> Deployment:
    return refresh(engine.create_deployment(group=group, revision=revision, **kwargs))


def refresh(deployment: Deployment) -> Deployment:
    return Deployment.objects.get(pk=deployment.pk)


def issued(instance: Instance | None = None, deployment: Deployment | None = None) -> list[HostCommand]:
    """Commands an agent would see in its poll answer right now."""
    query = HostCommand.objects.filter(status=CommandStatus.ISSUED).select_related("lifecycle_event")
    if instance is not None:
        query = query.filter(instance=instance)
    if deployment is not None:
        query = query.filter(deployment=deployment)
    return list(query.order_by("issued_at", "lifecycle_event__target__position"))


def complete(
    command: HostCommand, instance: Instance, status: str = "Succeeded", **diagnostics
) -> HostCommand:
    """Ack and complete one command, as the agent does."""
    engine.ack_command(command.pk, instance, 60)
    if status == "Failed":
        diagnostics.setdefault("error_code", "ScriptFailed")
        diagnostics.setdefault("message", f"{command.lifecycle_event.name} failed with exit code 1")
    return engine.complete_command(command.pk, instance, status, diagnostics)


def finish_host(
    instance: Instance,
    outcome: str = "Succeeded",
    *,
    fail_at: str = "AfterInstall",
    deployment: Deployment | None = None,
) -> list[str]:
    """Run the commands issued to the host (for one deployment, if given) until none is left."""
    ran = []
    while commands := issued(instance, deployment):
        command = commands[0]
        name = command.lifecycle_event.name
        failing = outcome == "Failed" and name == fail_at
        complete(command, instance, "Failed" if failing else "Succeeded")
        ran.append(name)
    return ran
