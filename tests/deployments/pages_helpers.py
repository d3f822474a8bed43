"""Scenes for the deployment page tests: a deployed group with log rows (objects come from factories)."""

from __future__ import annotations

import itertools

from factories import ALL_AT_ONCE, deploy, make_app, make_group, make_instance, make_revision

from deployments import eventlog
from deployments.models import Deployment, DeploymentEvent, HostCommand
from projects.models import Project

_n = itertools.count(1)


def setup_group(project: Project, hosts: int = 3, app_name: str | None = None):
    app = make_app(app_name or f"app-{next(_n)}", project=project)
    tag = f"t{next(_n)}"
    group = make_group(app, config=ALL_AT_ONCE, tags={"role": tag})
    instances = [make_instance(f"{tag}-host-{i}", project=project, role=tag) for i in range(hosts)]
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
