"""Permission-scoped lookups. Every page goes through these, so no view forgets the check.

Someone who is not a member of a project gets a 404, never a 403: a project's existence is private.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import ROLE_RANK, Membership, Project, Role


def membership_for(user, project: Project) -> Membership | None:
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return Membership.objects.filter(project=project, user=user).first()


def get_project_for_user(request, slug: str, role: str = Role.VIEWER) -> tuple[Project, Membership]:
    """The project and the user's membership; 404 for outsiders, 403 for members below `role`."""
    project = Project.objects.filter(slug=slug).first()
    membership = membership_for(request.user, project) if project else None
    if project is None or membership is None:
        raise Http404("No such project.")
    if ROLE_RANK[membership.role] < ROLE_RANK[role]:
        raise PermissionDenied(f"This needs the {role} role in {project.name}.")
    return project, membership


def projects_for(user, role: str = Role.VIEWER):
    if user is None or not user.is_authenticated:
        return Project.objects.none()
    allowed = [r for r, rank in ROLE_RANK.items() if rank >= ROLE_RANK[role]]
    return Project.objects.filter(memberships__user=user, memberships__role__in=allowed).distinct()
