from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_safe

from projects.access import get_project_for_user
from projects.models import Project, Role

from ..tiles import render_tiles


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; send them to the one icon."""
    return redirect(static("favicon.svg"), permanent=True)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"projects": Project.objects.for_user(request.user)})


@login_required
@require_safe
def project(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug)
    tiles = render_tiles(project, request.GET)
    for tile in tiles:
        tile.connect_url = connect_url(project, tile.key)
    context = {
        "project": project,
        "membership": membership,
        "tiles": tiles,
        "is_owner": membership.allows(Role.OWNER),
    }
    return render(request, "dashboard/project.html", context)


# The integration page that connects what a tile needs; the rest go to the integrations overview.
CONNECTS = {"repository": "github", "build": "github"}


def connect_url(project, tile_key: str) -> str:
    """Where a tile's "Connect…" link goes: the page that connects it."""
    kind = CONNECTS.get(tile_key)
    if kind:
        return reverse("integrations:edit", args=[project.slug, kind])
    return reverse("integrations:index", args=[project.slug])
