"""Who may do what. Every API view asks here, so projects and roles can slot in in one place.

Actions, from least to most powerful:

* ``view``: read applications, groups, revisions, deployments, the fleet.
* ``deploy``: create, stop and preview deployments; upload revisions.
* ``manage``: change applications, groups, configurations, the fleet and registration tokens.

Until projects and roles exist, any authenticated user may do everything.
"""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

VIEW = "view"
DEPLOY = "deploy"
MANAGE = "manage"
ACTIONS = frozenset({VIEW, DEPLOY, MANAGE})


def can(user, action: str, obj=None) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return bool(user is not None and user.is_authenticated and user.is_active)


def require(user, action: str, obj=None) -> None:
    """Raise PermissionDenied unless `user` may perform `action` (on `obj`, when given)."""
    if not can(user, action, obj):
        what = f" on {obj}" if obj is not None else ""
        raise PermissionDenied(f"You may not {action}{what}.")


def action_for(request, view) -> str:
    """`view.access_actions` maps viewset actions to actions; reads default to view, writes to manage."""
    mapping = getattr(view, "access_actions", {})
    name = getattr(view, "action", None)
    if name in mapping:
        return mapping[name]
    return VIEW if request.method in SAFE_METHODS else MANAGE


class ActionPermission(BasePermission):
    """DRF's side of `require`. Anonymous requests get False, which DRF turns into a 401."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        require(request.user, action_for(request, view))
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        require(request.user, action_for(request, view), obj)
        return True
