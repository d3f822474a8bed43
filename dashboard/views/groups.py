"""A deployment group's page: its settings (editable by contributors), tag filters, matching hosts,
EC2 instances with no agent, and recent deployments."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from deployments.models import Deployment
from integrations.aws.fleet import missing_agents
from integrations.models import AwsConnection, Ec2Discovery
from projects.access import get_project_for_user
from projects.models import Role

from ..forms import GroupSettingsForm
from ..summaries import active_instances, installed_by_instance, project_groups
from ..tag_editor import filter_text


@login_required
@require_http_methods(["GET", "POST"])
def group_detail(request: HttpRequest, slug: str, app: str, group: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug)
    found = project_groups(project).filter(application__name=app, name=group).first()
    if found is None:
        raise Http404("No such deployment group in this project.")
    can_edit = membership.allows(Role.CONTRIBUTOR)
    form = None
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Editing a deployment group needs the contributor role.")
        form = GroupSettingsForm(request.POST, group=found)
        if form.is_valid():
            form.save()
            messages.success(request, f"Saved the settings of {found.application.name}/{found.name}.")
            return redirect("group_detail", slug=project.slug, app=app, group=group)
    elif can_edit:
        form = GroupSettingsForm(group=found)
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
            "form": form,
            "can_edit": can_edit,
            "is_owner": membership.allows(Role.OWNER),
            "replacement_filters": filter_text(
                ((found.blue_green_configuration or {}).get("replacement") or {}).get("tag_filters") or []
            ),
            "ec2": ec2_agents(project, found),
        },
        status=400 if form is not None and form.is_bound else 200,
    )


def ec2_agents(project, group) -> dict | None:
    """EC2 instances the group should have that run no agent, from the last discovery (no network:
    a beat task refreshes it). None when the project has no AWS connection."""
    if not AwsConnection.objects.filter(project=project).exists():
        return None
    discovery = Ec2Discovery.objects.filter(group=group).only("error", "checked_at").first()
    return {
        "configured": discovery is not None,
        "error": discovery.error if discovery else "",
        "checked_at": discovery.checked_at if discovery else None,
        "missing": missing_agents(group) if discovery and not discovery.error else [],
    }
