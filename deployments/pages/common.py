"""Lookups shared by the deployment pages: a deployment only exists inside its project."""

from __future__ import annotations

from django.http import Http404

from deployments.models import Deployment
from projects.access import get_project_for_user
from projects.models import Role


def deployment_in(project, deployment_id: str, queryset=None) -> Deployment:
    """The project's deployment or a 404; another project's id is as unknown as a made-up one."""
    queryset = queryset if queryset is not None else Deployment.objects.all()
    deployment = queryset.filter(pk=deployment_id, application__project=project).first()
    if deployment is None:
        raise Http404("No such deployment.")
    return deployment


def can_deploy(membership) -> bool:
    return membership.allows(Role.CONTRIBUTOR)


__all__ = ["can_deploy", "deployment_in", "get_project_for_user"]
