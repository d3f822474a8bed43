"""The deployment list: filters, pagination, and a fixed number of queries per page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import render
from django.views.decorators.http import require_safe

from deployments.durations import human
from deployments.models import Deployment, DeploymentTarget

from .common import can_deploy, get_project_for_user
from .forms import FilterForm

PAGE_SIZE = 25


@login_required
@require_safe
def deployment_list(request, slug: str):
    project, membership = get_project_for_user(request, slug)
    filters = FilterForm(request.GET or None, project=project)
    queryset = (
        Deployment.objects.filter(application__project=project)
        .select_related("application", "deployment_group", "revision", "created_by")
        .order_by("-created_at", "-id")
    )
    if filters.is_valid():
        data = filters.cleaned_data
        if data["group"]:
            queryset = queryset.filter(deployment_group=data["group"])
        if data["status"]:
            queryset = queryset.filter(status=data["status"])
        if data["creator"]:
            queryset = queryset.filter(created_by=data["creator"])
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    # One aggregate for the page's host counts, never one query per row.
    counts: dict[str, dict[str, int]] = {}
    for row in (
        DeploymentTarget.objects.filter(deployment_id__in=[d.pk for d in rows])
        .values("deployment_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts.setdefault(row["deployment_id"], {})[row["status"]] = row["n"]
    items = [
        {
            "deployment": d,
            "duration": human(d.duration),
            "hosts": sum(counts.get(d.pk, {}).values()),
            "ok": counts.get(d.pk, {}).get("Succeeded", 0),
            "failed": counts.get(d.pk, {}).get("Failed", 0),
        }
        for d in rows
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "deployments/list.html",
        {
            "project": project,
            "membership": membership,
            "can_deploy": can_deploy(membership),
            "filters": filters,
            "page": page,
            "items": items,
            "query": query.urlencode(),
        },
    )
