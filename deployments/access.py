"""Who may do what. Every API view asks here, so project roles are checked in one place.

Actions, from least to most powerful, and the project role each one needs:

* ``view`` (viewer): read applications, groups, revisions, deployments, the fleet.
* ``deploy`` (contributor): create, stop and preview deployments; upload revisions.
* ``manage`` (contributor): create applications; create, edit and delete deployment groups;
  edit instance tags; create and edit custom deployment configurations.
* ``own`` (owner): delete applications, issue and revoke registration tokens, deregister instances,
  and everything about the project itself (settings, team, integrations, deletion).

Every object belongs to a project through its application, registration token, instance or (a
custom deployment configuration) its own project. Someone who is not a member of that project gets a
404, never a 403: a project's contents are private. A member below the needed role gets a 403 naming
the role, before anything else in the request is looked at.

The built-in deployment configurations are global: everyone signed in reads them, no one changes them.
"""

from __future__ import annotations

from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from projects import access as project_access
from projects.models import Membership, Project, Role

VIEW = "view"
DEPLOY = "deploy"
MANAGE = "manage"
OWN = "own"
ACTIONS = frozenset({VIEW, DEPLOY, MANAGE, OWN})
ROLE_FOR = {VIEW: Role.VIEWER, DEPLOY: Role.CONTRIBUTOR, MANAGE: Role.CONTRIBUTOR, OWN: Role.OWNER}


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def role_for_action(action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return ROLE_FOR[action]


def project_ids(user, role: str = Role.VIEWER) -> QuerySet:
    """A subquery of the ids of projects where `user` holds `role` or better."""
    return Membership.objects.project_ids(user, role)


def scope(queryset: QuerySet, user, path: str = "project") -> QuerySet:
    """Only the rows of projects `user` is a member of; `path` leads from the row to its project."""
    return queryset.filter(**{f"{path}__in": project_ids(user)})


def project_of(obj) -> int | None:
    """The id of the project `obj` belongs to, or None for global objects such as configurations."""
    if obj is None:
        return None
    if isinstance(obj, Project):
        return obj.pk
    if hasattr(obj, "project_id"):
        return obj.project_id
    if hasattr(obj, "application"):
        return obj.application.project_id
    return None


def _is_global(obj) -> bool:
    return (
        obj is None
        or not isinstance(obj, Model)
        or getattr(obj, "builtin", False)  # the built-in deployment configurations
        or not (isinstance(obj, Project) or hasattr(obj, "project_id") or hasattr(obj, "application"))
    )


def can(user, action: str, obj=None) -> bool:
    needed = role_for_action(action)
    if not _active(user):
        return False
    if _is_global(obj):
        # Global things (deployment configurations): reading is for everyone signed in, writing for
        # anyone holding the needed role in some project.
        return action == VIEW or project_ids(user, needed).exists()
    # Not cached on the user: tests and long-lived clients reuse user objects across role changes.
    membership = project_access.membership_for(user, project_of(obj))
    return membership is not None and membership.allows(needed)


def require(user, action: str, obj=None) -> None:
    """Raise NotFound for outsiders and PermissionDenied for members below the needed role."""
    needed = role_for_action(action)
    if not _active(user):
        raise PermissionDenied("Sign in first.")
    if _is_global(obj):
        if not can(user, action, obj):
            raise PermissionDenied(f"This needs the {needed} role in at least one project.")
        return
    try:
        project_access.require(user, project_of(obj), needed)
    except Http404:
        raise NotFound("Not found.") from None  # the same answer as for a name that matches nothing


def require_project_in_body(request, action: str) -> None:
    """The role check of a create whose body names its project: before the rest of the body is
    validated, so a member below the role gets a 403 and not what is wrong with the payload.

    A body naming no project, or one the caller is not on, passes: the serializer's 400 then says
    "No project … that you are a member of", the same for a project that does not exist."""
    data = request.data
    slug = data.get("project") if hasattr(data, "get") else None
    if not isinstance(slug, str) or not slug or not _active(request.user):
        return
    membership = Membership.objects.filter(user=request.user, project__slug=slug).first()
    needed = role_for_action(action)
    if membership is not None and not membership.allows(needed):
        raise PermissionDenied(project_access.refusal(membership, needed))


def action_for(request, view) -> str:
    """`view.access_actions` maps viewset actions to actions; reads default to view, writes to manage."""
    mapping = getattr(view, "access_actions", {})
    name = getattr(view, "action", None)
    if name in mapping:
        return mapping[name]
    return VIEW if request.method in SAFE_METHODS else MANAGE


class ActionPermission(BasePermission):
    """DRF's side of `require`. Anonymous requests get False, which DRF turns into a 401.

    Which project a list or a create concerns is only known from the queryset or the body, so
    views scope their querysets with `scope` and check creates themselves; objects are checked here.
    """

    def has_permission(self, request, view) -> bool:
        return _active(request.user)

    def has_object_permission(self, request, view, obj) -> bool:
        require(request.user, action_for(request, view), obj)
        return True
