"""Applications, their deployment groups and their revisions."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, ProtectedError
from django.http import QueryDict
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
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
from projects.api.exceptions import Conflict

from . import bundles, lookup
from .base import ApiViewSet, ApplicationScoped
from .serializers.applications import (
    ApplicationSerializer,
    DeploymentGroupSerializer,
    RevisionRegisterSerializer,
    RevisionSerializer,
    RevisionUploadSerializer,
)

SOURCES = ("bundle", "s3", "github")


def running_deployment(group: DeploymentGroup) -> str | None:
    """The id of a deployment not finished yet in `group`, which blocks the group's deletion."""
    return (
        Deployment.objects.filter(deployment_group=group)
        .exclude(status__in=DEPLOYMENT_TERMINAL)
        .values_list("id", flat=True)
        .first()
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

    def filter_queryset(self, queryset):
        return lookup.member_project_filter(self.request, queryset) if self.action == "list" else queryset

    def get_object(self) -> Application:
        application = lookup.by_name(self.get_queryset(), self.request, self.kwargs["name"], "application")
        self.check_object_permissions(self.request, application)
        return application

    def create(self, request, *args, **kwargs):
        access.require_project_in_body(request, access.MANAGE)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        try:
            with transaction.atomic():
                serializer.save(created_by=self.request.user)
        except IntegrityError:  # created meanwhile by a concurrent request
            data = serializer.validated_data
            message = f"{data['project'].slug} already has an application named {data['name']}."
            raise ValidationError({"name": [message]}) from None

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
        application = self.application  # the role check, before the body is even parsed
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = serializer.save(application=application)
        return Response(self._render(group), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        group = self.get_object()
        serializer = self.get_serializer(group, data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        return Response(self._render(serializer.save()))

    def perform_destroy(self, instance: DeploymentGroup) -> None:
        active = running_deployment(instance)
        if active:
            raise Conflict(f"Deployment {active} is still running in {instance}; stop it first.")
        instance.delete()


class RevisionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApplicationScoped):
    serializer_class = RevisionSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    access_actions = {"create": access.DEPLOY}
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return (
            Revision.objects.filter(application=self.application)
            .select_related("application", "uploaded_by")
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        summary="Upload a bundle, or register an S3 object or a GitHub commit",
        description="multipart/form-data with `bundle` uploads an archive (checked, then stored on the "
        "server or, with `s3_location`, pushed to S3). application/json with `s3` or `github` registers "
        "a revision that stays where it is, after checking that it exists. Exactly one of the three.",
        request={
            "multipart/form-data": RevisionUploadSerializer,
            "application/json": RevisionRegisterSerializer,
        },
        responses={201: RevisionSerializer},
        examples=[
            OpenApiExample(
                "S3 object",
                request_only=True,
                media_type="application/json",
                value={"s3": {"bucket": "releases", "key": "shop/shop-1.4.tgz", "etag": "9b2cf535f27731c9"}},
            ),
            OpenApiExample(
                "GitHub commit",
                request_only=True,
                media_type="application/json",
                value={"github": {"repository": "acme/shop", "commit": "4f1c2ab"}, "description": "1.4"},
            ),
        ],
    )
    def create(self, request, *args, **kwargs):
        # Who may add revisions comes first: outsiders get 404 and viewers 403 whatever the body.
        access.require(request.user, access.DEPLOY, self.application)
        data = request.data
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ["The body must be a JSON object."]})
        given = [name for name in SOURCES if data.get(name) not in (None, "")]
        form = isinstance(data, QueryDict)
        if given == ["bundle"] or (form and not given):
            return self._upload(request)  # the multipart path, unchanged: no bundle is its 400
        if len(given) != 1:
            got = " and ".join(given) or "none of them"
            raise ValidationError(
                {
                    "non_field_errors": [
                        "Give exactly one of bundle (a multipart upload), s3 or github (JSON); "
                        f"this request has {got}."
                    ]
                }
            )
        if form:
            raise ValidationError(
                {given[0]: [f"{given[0]} is a JSON object: send the request as application/json."]}
            )
        register = RevisionRegisterSerializer(
            data=data, context={"application": self.application, "user": request.user}
        )
        register.is_valid(raise_exception=True)
        revision = register.save()
        return Response(RevisionSerializer(revision).data, status=status.HTTP_201_CREATED)

    def _upload(self, request) -> Response:
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
