from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_safe

from projects.access import get_project_for_user
from projects.models import Project, Role

from ..tiles import render_tiles


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"projects": Project.objects.for_user(request.user)})


@login_required
@require_safe
def project(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug)
    tiles = render_tiles(project, request.GET)
    context = {
        "project": project,
        "membership": membership,
        "tiles": tiles,
        "is_owner": membership.allows(Role.OWNER),
        "settings_url": settings_url(project),
    }
    return render(request, "dashboard/project.html", context)


def settings_url(project) -> str:
    """Where "connect" links go; the settings page lives in its own module and may not be routed yet."""
    try:
        return reverse("project_settings", args=[project.slug])
    except NoReverseMatch:
        return f"/p/{project.slug}/settings/"
