"""What every API view shares: the permission check, name lookups and small request parsers."""

from __future__ import annotations

from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS

from deployments import access
from deployments.access import ActionPermission
from deployments.models import Application

from . import lookup

# Names may contain dots (CodeDeployDefault.OneAtATime), so lookups accept anything but a slash.
NAME_REGEX = "[^/]+"


class ApiViewSet(viewsets.GenericViewSet):
    permission_classes = [ActionPermission]
    lookup_value_regex = NAME_REGEX


class ApplicationScoped(ApiViewSet):
    """A resource under /applications/{application}/; the application's project decides who may do what."""

    _application: Application | None = None

    @property
    def application(self) -> Application:
        if self._application is None:
            user = self.request.user
            application = lookup.application(self.request, self.kwargs["application"])
            access.require(user, access.action_for(self.request, self), application)
            if self.request.method not in SAFE_METHODS:
                lookup.refuse_other_project(self.request, application.project)
            self._application = application
        return self._application

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if "application" in self.kwargs:
            context["application"] = self.application
        return context


def int_param(request, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"must be a non-negative integer, not {raw!r}"]}) from None
    if value < minimum:
        raise ValidationError({name: [f"must be at least {minimum}, not {value}"]})
    return min(value, maximum) if maximum is not None else value


def bool_param(request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValidationError({name: [f"must be true or false, not {raw!r}"]})
