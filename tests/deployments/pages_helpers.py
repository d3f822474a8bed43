"""Fixture helpers for the deployment page tests: a project, its members, and a deployed group."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from fleet_factories import deploy, make_app, make_group, make_instance, make_revision

from deployments import eventlog
from deployments.models import Deployment, DeploymentEvent, HostCommand
from projects.models import Membership, Project

_n = itertools.count(1)
ROLES = ("owner", "contributor", "viewer")
PASSWORD = "pw-for-tests"


def make_project(slug: str = "shop") -> Project:
    return Project.objects.create(name=slug.title(), slug=slug)


def make_member(project: Project, role: str, username: str | None = None):
    user = get_user_model().objects.create_user(username or f"{role}-{next(_n)}", password=PASSWORD)
    Membership.objects.create(project=project, user=user, role=role)
    return user


def make_outsider():
    return get_user_model().objects.create_user(f"outsider-{next(_n)}", password=PASSWORD)


def setup_group(project: Project, hosts: int = 3, app_name: str | None = None):
    app = make_app(app_name or f"app-{next(_n)}")
    app.project = project
    app.save()
    tag = f"t{next(_n)}"
    group = make_group(app, config="CodeDeployDefault.AllAtOnce", tags={"role": tag})
    instances = []
    for i in range(hosts):
        instance = make_instance(f"{tag}-host-{i}", role=tag)
        instance.project = project
        instance.save()
        instances.append(instance)
    return app, group, instances


def with_logs(deployment: Deployment, lines_per_command: int = 2) -> None:
    """Give each issued command some log rows, as an agent would send them."""
    for command in HostCommand.objects.filter(deployment=deployment).select_related(
        "lifecycle_event", "instance"
    ):
        from django.db import transaction

        with transaction.atomic():
            eventlog.append(
                deployment.pk,
                [
                    eventlog.entry(
                        "log",
                        instance=command.instance.name,
                        event=command.lifecycle_event.name,
                        message=f"line {i} of {command.lifecycle_event.name}",
                        stream="stdout",
                    )
                    for i in range(lines_per_command)
                ],
            )


def deployed(project: Project, hosts: int = 3, **kwargs) -> Deployment:
    app, group, _ = setup_group(project, hosts)
    deployment = deploy(group, make_revision(app), **kwargs)
    with_logs(deployment)
    return deployment


def log_count(deployment: Deployment) -> int:
    return DeploymentEvent.objects.filter(deployment=deployment, kind="log").count()
