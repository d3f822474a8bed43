"""The one access check: may this user act in this project with this role?

Someone who is not a member of a project (or is signed out, or deactivated) gets a 404, never a 403:
a project's existence is private. A member below the needed role gets a 403 that names both roles.
Django's Http404 and PermissionDenied are raised, which DRF answers as 404 and 403 with the same
message, so pages and the API share this check. Lists use `Project.objects.for_user(user, role)`.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Membership, Project, Role


def membership_for(user, project: Project | int | None) -> Membership | None:
    """The user's membership of the project, or None for outsiders, anonymous and deactivated users."""
    if project is None or user is None or not user.is_authenticated or not user.is_active:
        return None
    membership = Membership.objects.filter(project=project, user=user).first()
    if membership is not None and isinstance(project, Project):
        membership.project = project  # no second query for what the caller already holds
    return membership


def refusal(membership: Membership, role: str) -> str:
    return f"This needs the {role} role in this project; you are a {membership.role}."


def require(user, project: Project | int | None, role: str = Role.VIEWER) -> Membership:
    """The user's membership of `project` when it grants `role`; Http404 for outsiders (and for no
    project at all), PermissionDenied for members below `role`."""
    membership = membership_for(user, project)
    if membership is None:
        raise Http404("No such project.")
    if not membership.allows(role):
        raise PermissionDenied(refusal(membership, role))
    return membership


def require_slug(user, slug: str, role: str = Role.VIEWER) -> Membership:
    """`require` for a project named by its slug; an unknown slug is a 404 like any outsider's."""
    return require(user, Project.objects.filter(slug=slug).first(), role)


def get_project_for_user(request, slug: str, role: str = Role.VIEWER) -> tuple[Project, Membership]:
    """For views: the project of the URL and the requester's membership, or the 404/403 of `require`."""
    membership = require_slug(request.user, slug, role)
    return membership.project, membership
