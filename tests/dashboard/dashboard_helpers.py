"""Small helpers for the dashboard page tests; each makes one object."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from deployments.models import (
    Application,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    FileExistsBehavior,
    Instance,
    InstanceGroupState,
    Revision,
)
from projects.models import Membership, Project

_seq = itertools.count(1)
PASSWORD = "pw"


def make_user(username: str):
    return get_user_model().objects.create_user(username, password=PASSWORD)


def make_project(slug: str = "shop") -> Project:
    return Project.objects.create(name=slug.title(), slug=slug)


def make_member(project: Project, username: str, role: str):
    user = make_user(username)
    Membership.objects.create(project=project, user=user, role=role)
    return user


def make_app(project: Project, name: str | None = None) -> Application:
    return Application.objects.create(project=project, name=name or f"app{next(_seq)}")


def make_group(app: Application, name: str = "web", **tags: str) -> DeploymentGroup:
    tags = tags or {"role": name}
    return DeploymentGroup.objects.create(
        application=app,
        name=name,
        deployment_config=DeploymentConfig.objects.get(name="CodeDeployDefault.OneAtATime"),
        tag_filters=[{"key": k, "value": v, "type": "KEY_AND_VALUE"} for k, v in tags.items()],
    )


def make_revision(app: Application) -> Revision:
    return Revision.objects.create(application=app, bundle_type="tgz", sha256=f"{next(_seq):064x}")


def make_instance(project: Project, name: str | None = None, *, online: bool = True, **tags: str) -> Instance:
    instance = Instance(
        project=project,
        name=name or f"host{next(_seq)}",
        hostname=f"{name or 'host'}.example.internal",
        tags=tags or {"role": "web"},
        online=online,
        last_seen=timezone.now(),
        agent_version="0.1.0",
    )
    instance.rotate_credential()
    instance.save()
    return instance


def make_deployment(
    group: DeploymentGroup,
    revision: Revision,
    *,
    status: str = "Succeeded",
    user=None,
    ago: timedelta = timedelta(0),
    took: timedelta = timedelta(seconds=60),
) -> Deployment:
    """A finished (or not) deployment created `ago` in the past, without running the engine."""
    deployment = Deployment.objects.create(
        application=group.application,
        deployment_group=group,
        revision=revision,
        deployment_config=group.deployment_config,
        status=status,
        created_by=user,
        file_exists_behavior=FileExistsBehavior.DISALLOW,
    )
    created = timezone.now() - ago
    Deployment.objects.filter(pk=deployment.pk).update(
        created_at=created, started_at=created, ended_at=created + took if status != "InProgress" else None
    )
    deployment.refresh_from_db()
    return deployment


def install(instance: Instance, group: DeploymentGroup, revision: Revision | None) -> InstanceGroupState:
    return InstanceGroupState.objects.create(
        instance=instance, group=group, revision=revision, last_status="Succeeded" if revision else ""
    )
