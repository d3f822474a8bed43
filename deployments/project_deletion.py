"""What deployments/ answers when a project is deleted (projects.signals, connected in apps.py)."""

from __future__ import annotations

from .models import DEPLOYMENT_TERMINAL, Application, Deployment


def running_deployment(sender, project, **kwargs) -> str | None:
    """A deployment of the project that has not finished yet blocks the deletion."""
    running = (
        Deployment.objects.filter(application__project=project)
        .exclude(status__in=DEPLOYMENT_TERMINAL)
        .values_list("id", flat=True)
        .first()
    )
    return f"Deployment {running}" if running else None


def delete_history(sender, project, **kwargs) -> None:
    """Deployments first: they protect their revisions and deployment configs, which the cascade from
    the project (applications, groups, configs, the fleet) then deletes."""
    Deployment.objects.filter(application__project=project).delete()
    Application.objects.filter(project=project).delete()
