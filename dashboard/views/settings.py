"""Project settings (owners only) and the team (every member reads it, owners change it).
Outsiders get 404, members below the needed role 403."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from dashboard.forms import AddMemberForm, DeleteProjectForm, ProjectSettingsForm, RoleForm
from deployments import retention
from projects.access import get_project_for_user, refusal
from projects.models import Membership, Role


def _members(project):
    return Membership.objects.filter(project=project).select_related("user").order_by("user__username")


def _owner_would_vanish(membership: Membership, new_role: str | None) -> bool:
    if membership.role != Role.OWNER or new_role == Role.OWNER:
        return False
    others = Membership.objects.select_for_update().filter(project_id=membership.project_id, role=Role.OWNER)
    return not others.exclude(pk=membership.pk).exists()


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for_user(request, slug, role=Role.OWNER)
    form = ProjectSettingsForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Project saved.")
        return redirect("project_settings", slug=project.slug)
    return render(
        request,
        "dashboard/settings.html",
        {
            "project": project,
            "form": form,
            "delete_form": DeleteProjectForm(project=project),
            "storage": retention.project_storage(project.pk),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug)
    is_owner = membership.allows(Role.OWNER)
    if request.method == "POST" and not is_owner:
        raise PermissionDenied(refusal(membership, Role.OWNER))
    form = AddMemberForm(request.POST or None, project=project) if is_owner else None
    if form is not None and request.method == "POST" and form.is_valid():
        user = form.cleaned_data["username"]
        Membership.objects.create(project=project, user=user, role=form.cleaned_data["role"])
        messages.success(request, f"Added {user.username} as {form.cleaned_data['role']}.")
        return redirect("project_team", slug=project.slug)
    context = {
        "project": project,
        "form": form,
        "members": _members(project),
        "roles": Role.choices,
        "is_owner": is_owner,
    }
    status = 400 if form is not None and form.errors else 200
    return render(request, "dashboard/settings_members.html", context, status=status)


@login_required
@require_safe
def old_members(request: HttpRequest, slug: str) -> HttpResponse:
    """The team page's address before it left Settings; bookmarks still work."""
    get_project_for_user(request, slug)
    return redirect("project_team", slug=slug)


@login_required
@require_POST
def member_role(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    project, _ = get_project_for_user(request, slug, role=Role.OWNER)
    membership = get_object_or_404(Membership, project=project, user__username=username)
    form = RoleForm(request.POST)
    if form.is_valid():
        with transaction.atomic():
            if _owner_would_vanish(membership, form.cleaned_data["role"]):
                messages.error(request, "A project needs at least one owner; make someone else owner first.")
            else:
                membership.role = form.cleaned_data["role"]
                membership.save(update_fields=["role"])
                messages.success(request, f"{username} is now {membership.role}.")
    return redirect("project_team", slug=project.slug)


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    project, _ = get_project_for_user(request, slug, role=Role.OWNER)
    membership = get_object_or_404(Membership, project=project, user__username=username)
    with transaction.atomic():
        if _owner_would_vanish(membership, None):
            messages.error(request, "A project needs at least one owner; make someone else owner first.")
        else:
            membership.delete()
            messages.success(request, f"Removed {username}.")
    return redirect("project_team", slug=project.slug)


@login_required
@require_POST
def delete(request: HttpRequest, slug: str) -> HttpResponse:
    project, _ = get_project_for_user(request, slug, role=Role.OWNER)
    form = DeleteProjectForm(request.POST, project=project)
    valid = form.is_valid()
    busy = project.busy_with()
    if busy:
        form.add_error(None, f"{busy} is still running; stop it first.")
    if valid and not busy:
        name = project.name
        project.delete_with_history()
        messages.success(request, f"Deleted {name}.")
        return redirect("home")
    context = {
        "project": project,
        "form": ProjectSettingsForm(instance=project),
        "delete_form": form,
        "storage": retention.project_storage(project.pk),
    }
    return render(request, "dashboard/settings.html", context, status=400)
