"""Deployment configurations: the built-in three plus custom minimum-healthy-hosts rules."""

from __future__ import annotations

from rest_framework import mixins
from rest_framework.exceptions import PermissionDenied

from deployments import access
from deployments.models import Deployment, DeploymentConfig

from .base import ApiViewSet, Conflict
from .serializers.configs import DeploymentConfigSerializer


class DeploymentConfigViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = DeploymentConfigSerializer
    queryset = DeploymentConfig.objects.all()
    lookup_field = "name"

    def perform_create(self, serializer) -> None:
        # Configurations are global: any contributor of any project may add one.
        access.require(self.request.user, access.MANAGE)
        serializer.save()

    def _refuse_builtin(self, config: DeploymentConfig, verb: str) -> None:
        if config.builtin:
            raise PermissionDenied(f"{config.name} is a built-in configuration and cannot be {verb}.")

    def update(self, request, *args, **kwargs):
        self._refuse_builtin(self.get_object(), "edited")
        return super().update(request, *args, **kwargs)

    def perform_destroy(self, instance: DeploymentConfig) -> None:
        self._refuse_builtin(instance, "deleted")
        groups = sorted(str(g) for g in instance.groups.select_related("application"))
        if groups:
            raise Conflict(f"{instance.name} is used by deployment group(s) {', '.join(groups)}.")
        if Deployment.objects.filter(deployment_config=instance).exists():
            raise Conflict(f"{instance.name} is used by past deployments; it cannot be deleted.")
        instance.delete()
