"""The getting-started checklist on a project's overview: install an agent, upload a revision, run a
first deployment. Shown until all three are done; then never again (remembered in the cache, so a
finished project's overview costs no query for it)."""

from __future__ import annotations

import contextlib

from django import template
from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.urls import reverse

from deployments.models import Deployment, Instance, Revision
from projects.models import Project

register = template.Library()

DONE_TTL = 30 * 24 * 3600


def _done_key(project) -> str:
    created = project.created_at.timestamp() if getattr(project, "created_at", None) else 0
    return f"getting-started-done:{project.pk}:{created:.0f}"


def steps(project) -> list[dict] | None:
    """The checklist's steps, or None once every step is done."""
    with contextlib.suppress(Exception):  # the cache is an optimisation only
        if cache.get(_done_key(project)):
            return None
    # One query for the three questions.
    row = (
        Project.objects.filter(pk=project.pk)
        .annotate(
            has_agent=Exists(Instance.objects.filter(project=OuterRef("pk"))),
            has_revision=Exists(Revision.objects.filter(application__project=OuterRef("pk"))),
            has_deployment=Exists(Deployment.objects.filter(application__project=OuterRef("pk"))),
        )
        .values("has_agent", "has_revision", "has_deployment")
        .first()
    ) or {}
    slug = project.slug
    items = [
        {
            "what": "Install an agent",
            "how": "Run the install line on a host: it registers with the project's tags.",
            "url": reverse("fleet_install", args=[slug]),
            "done": bool(row.get("has_agent")),
        },
        {
            "what": "Upload a revision",
            "how": "A bundle with appspec.yml at its root, or a GitHub commit or S3 object.",
            "url": reverse("revision_list", args=[slug]),
            "done": bool(row.get("has_revision")),
        },
        {
            "what": "First deployment",
            "how": "Deploy the revision to the group and watch it roll out.",
            "url": reverse("deployment_create", args=[slug]),
            "done": bool(row.get("has_deployment")),
        },
    ]
    if all(item["done"] for item in items):
        with contextlib.suppress(Exception):
            cache.set(_done_key(project), True, DONE_TTL)
        return None
    return items


@register.inclusion_tag("dashboard/_getting_started.html")
def getting_started(project) -> dict:
    return {"steps": steps(project), "project": project}
