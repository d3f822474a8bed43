"""Applications, their deployment groups and their revisions."""

from __future__ import annotations

from django.db.models import Prefetch, ProtectedError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from deployments import access, engine
from deployments.models import (
    DEPLOYMENT_TERMINAL,
    Application,
    Deployment,
    DeploymentGroup,
    Instance,
    Revision,
)

from . import bundles
from .base import ApiViewSet, ApplicationScoped, Conflict
from .serializers.applications import (
    ApplicationSerializer,
    DeploymentGroupSerializer,
    RevisionSerializer,
    RevisionUploadSerializer,
)


class ApplicationViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = ApplicationSerializer
    lookup_field = "name"
    access_actions = {"destroy": access.OWN}

    def get_queryset(self):
        queryset = Application.objects.select_related("created_by", "project").prefetch_related(
            Prefetch(
                "deployment_groups",
                queryset=DeploymentGroup.objects.order_by("name").only("id", "name", "application_id"),
            )
        )
        return access.scope(queryset, self.request.user)

    def perform_create(self, serializer) -> None:
        serializer.save(created_by=self.request.user)

    def perform_destroy(self, instance: Application) -> None:
        if instance.deployments.exists():
            raise Conflict(f"{instance.name} has deployments; its history cannot be deleted.")
        try:
            instance.delete()
        except ProtectedError as exc:
            raise Conflict(f"{instance.name} is still in use: {exc.args[0]}") from None


class DeploymentGroupViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApplicationScoped,
):
    serializer_class = DeploymentGroupSerializer
    lookup_field = "name"

    def get_queryset(self):
        return DeploymentGroup.objects.filter(application=self.application).select_related(
            "application", "deployment_config"
        )

    def _matching(self, groups: list[DeploymentGroup]) -> dict[int, list[str]]:
        if len(groups) == 1:
            return {groups[0].pk: [i.name for i in engine.matching_instances(groups[0])]}
        # One fleet query for the whole page, however many groups it shows.
        fleet = list(
            Instance.objects.filter(
                deregistered_at__isnull=True, project_id=self.application.project_id
            ).only("name", "tags")
        )
        return {g.pk: [i.name for i in fleet if g.matches(i.tags or {})] for g in groups}

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        context = {**self.get_serializer_context(), "matching": self._matching(page)}
        return self.get_paginated_response(DeploymentGroupSerializer(page, many=True, context=context).data)

    def retrieve(self, request, *args, **kwargs):
        group = self.get_object()
        return Response(self._render(group))

    def _render(self, group: DeploymentGroup) -> dict:
        context = {**self.get_serializer_context(), "matching": self._matching([group])}
        return DeploymentGroupSerializer(group, context=context).data

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = serializer.save(application=self.application)
        return Response(self._render(group), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        group = self.get_object()
        serializer = self.get_serializer(group, data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        return Response(self._render(serializer.save()))

    def perform_destroy(self, instance: DeploymentGroup) -> None:
        active = (
            Deployment.objects.filter(deployment_group=instance)
            .exclude(status__in=DEPLOYMENT_TERMINAL)
            .values_list("id", flat=True)
            .first()
        )
        if active:
            raise Conflict(f"Deployment {active} is still running in {instance}; stop it first.")
        instance.delete()


class RevisionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApplicationScoped):
    serializer_class = RevisionSerializer
    parser_classes = [MultiPartParser, FormParser]
    access_actions = {"create": access.DEPLOY}
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return (
            Revision.objects.filter(application=self.application)
            .select_related("application", "uploaded_by")
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        request={"multipart/form-data": RevisionUploadSerializer}, responses={201: RevisionSerializer}
    )
    def create(self, request, *args, **kwargs):
        upload = RevisionUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        revision = bundles.store_upload(
            self.application,
            upload.validated_data["bundle"],
            description=upload.validated_data["description"],
            user=request.user,
            s3_location=upload.validated_data["s3_location"],
        )
        return Response(RevisionSerializer(revision).data, status=status.HTTP_201_CREATED)
