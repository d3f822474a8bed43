"""Deployment configurations: the built-in three, global and read-only, and each project's own
minimum-healthy-hosts rules, which only that project sees, uses and changes."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.exceptions import PermissionDenied, ValidationError

from deployments import access
from deployments.models import Deployment, DeploymentConfig
from projects.api.exceptions import Conflict

from . import lookup
from .base import ApiViewSet
from .serializers.configs import DeploymentConfigSerializer, name_taken


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("project", str, description="Project slug: its configs and the built-ins")
        ]
    )
)
class DeploymentConfigViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = DeploymentConfigSerializer
    lookup_field = "name"

    def get_queryset(self):
        return (
            lookup.config_queryset(self.request.user)
            .select_related("project")
            .order_by("-builtin", "name", "pk")
        )

    def filter_queryset(self, queryset):
        if self.action != "list" or not self.request.query_params.get("project"):
            return queryset
        lookup.member_project_filter(self.request, queryset)  # a project the caller is not on: a 400
        return (
            lookup.config_queryset(self.request.user, self.request.query_params["project"])
            .select_related("project")
            .order_by("-builtin", "name", "pk")
        )

    def get_object(self) -> DeploymentConfig:
        config = lookup.config(self.get_queryset(), self.request, self.kwargs["name"])
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and config.builtin:
            verb = "deleted" if self.request.method == "DELETE" else "edited"
            raise PermissionDenied(f"{config.name} is a built-in configuration and cannot be {verb}.")
        self.check_object_permissions(self.request, config)
        return config

    def create(self, request, *args, **kwargs):
        access.require_project_in_body(request, access.MANAGE)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        self._save(serializer)

    def perform_update(self, serializer) -> None:
        self._save(serializer)

    @staticmethod
    def _save(serializer) -> None:
        try:
            with transaction.atomic():
                serializer.save()
        except IntegrityError:  # the name was taken meanwhile by a concurrent request
            data = serializer.validated_data
            project = data.get("project") or serializer.instance.project
            raise ValidationError({"name": [name_taken(project, data["name"])]}) from None

    def perform_destroy(self, instance: DeploymentConfig) -> None:
        groups = sorted(str(g) for g in instance.groups.select_related("application"))
        if groups:
            raise Conflict(f"{instance.name} is used by deployment group(s) {', '.join(groups)}.")
        if Deployment.objects.filter(deployment_config=instance).exists():
            raise Conflict(f"{instance.name} is used by past deployments; it cannot be deleted.")
        instance.delete()
