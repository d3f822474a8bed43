"""A deployment group's page: its config, tag filters, matching hosts and recent deployments."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from deployments.models import Deployment

from ..access import get_project_for_user
from ..summaries import active_instances, installed_by_instance, project_groups


@login_required
def group_detail(request: HttpRequest, slug: str, app: str, group: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug)
    found = project_groups(project).filter(application__name=app, name=group).first()
    if found is None:
        raise Http404("No such deployment group in this project.")
    # Warning: tag matching in Python over the project's hosts; one query however many match.
    # Plain rows, not model instances: building 500 Instance objects costs more than the query.
    hosts = [
        h
        for h in active_instances(project).order_by("name").values("id", "name", "hostname", "tags", "online")
        if found.matches(h["tags"] or {})
    ]
    states = installed_by_instance(h["id"] for h in hosts)
    rows = []
    for host in hosts:
        state = next((s for s in states.get(host["id"], ()) if s.group_id == found.pk), None)
        rows.append(
            {
                "instance": host,
                "state": state,
                "outdated": found.last_good_revision_id is not None
                and (state.revision_id if state else None) != found.last_good_revision_id,
            }
        )
    recent = (
        Deployment.objects.filter(deployment_group=found)
        .select_related("revision", "created_by")
        .order_by("-created_at", "-pk")[:20]
    )
    return render(
        request,
        "dashboard/group.html",
        {
            "project": project,
            "membership": membership,
            "group": found,
            "rows": rows,
            "recent": recent,
        },
    )
