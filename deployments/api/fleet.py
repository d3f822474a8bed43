"""The fleet: instances running fleetdeck-agent, and the registration tokens that enrol them."""

from __future__ import annotations

from django.db.models import Prefetch
from django.db.models.fields.json import KeyTransform
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from deployments import access, engine
from deployments.models import DeploymentGroup, Instance, InstanceGroupState, RegistrationToken

from . import lookup
from .base import ApiViewSet, bool_param
from .serializers.fleet import InstanceSerializer, IssuedTokenSerializer, RegistrationTokenSerializer

STATES = ("active", "deregistered", "all")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "tag", str, many=True, description="key=value, or key for 'has this tag'; repeat to AND"
            ),
            OpenApiParameter("online", bool),
            OpenApiParameter(
                "deployment_group", str, description="application/group: the group's current targets"
            ),
            OpenApiParameter("state", str, enum=list(STATES), description="default active"),
            OpenApiParameter("project", str, description="Project slug"),
        ]
    )
)
class InstanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, ApiViewSet):
    serializer_class = InstanceSerializer
    lookup_field = "name"
    http_method_names = ["get", "patch", "post", "head", "options"]
    access_actions = {"deregister": access.OWN}

    def get_queryset(self):
        states = InstanceGroupState.objects.select_related("group__application", "revision").order_by(
            "group__application__name", "group__name"
        )
        queryset = Instance.objects.select_related("project").prefetch_related(
            Prefetch("group_states", queryset=states)
        )
        return access.scope(queryset, self.request.user).order_by("name")

    def get_object(self) -> Instance:
        instance = lookup.instance(self.get_queryset(), self.request, self.kwargs["name"])
        self.check_object_permissions(self.request, instance)
        return instance

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        request = self.request
        queryset = lookup.member_project_filter(request, queryset)
        state = request.query_params.get("state") or "active"
        if state not in STATES:
            raise ValidationError({"state": [f"{state!r} is not one of {', '.join(STATES)}"]})
        if state != "all":
            queryset = queryset.filter(deregistered_at__isnull=state == "active")
        for number, raw in enumerate(request.query_params.getlist("tag")):
            key, has_value, value = raw.partition("=")
            if not key:
                raise ValidationError({"tag": [f"{raw!r} needs a key: use key=value or key"]})
            if has_value:
                alias = f"_tag{number}"
                queryset = queryset.alias(**{alias: KeyTransform(key, "tags")}).filter(**{alias: value})
            else:
                queryset = queryset.filter(tags__has_key=key)
        online = bool_param(request, "online")
        if online is not None:
            queryset = queryset.filter(online=online)
        if group_ref := request.query_params.get("deployment_group"):
            app_name, _, group_name = group_ref.partition("/")
            groups = access.scope(DeploymentGroup.objects.all(), request.user, "application__project")
            if slug := request.query_params.get("project"):
                groups = groups.filter(application__project__slug=slug)
            found = list(
                groups.filter(application__name=app_name, name=group_name).select_related(
                    "application__project"
                )[:10]
            )
            if not found:
                raise ValidationError(
                    {"deployment_group": [f"No deployment group {group_ref!r}; use application/group"]}
                )
            group = lookup.one(found, "deployment group", group_ref, lambda g: g.application.project)
            queryset = queryset.filter(pk__in=[i.pk for i in engine.matching_instances(group)])
        return queryset

    def update(self, request, *args, **kwargs):
        # Who may edit it comes first: outsiders get 404 and viewers 403 whatever the body says.
        instance = self.get_object()
        lookup.refuse_other_project(request, instance.project)
        if not isinstance(request.data, dict):
            raise ValidationError(
                {"non_field_errors": ['Send a JSON object, such as {"tags": {"role": "web"}}.']}
            )
        # `project` only says which instance the name means (see lookup); it never moves one.
        unknown = set(request.data) - {"tags", "project"}
        if unknown:
            raise ValidationError(
                {field: ["is read-only; only tags can be edited"] for field in sorted(unknown)}
            )
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: InstanceSerializer})
    @action(detail=True, methods=["post"])
    def deregister(self, request, name=None):
        """Its credential stops working at once and it is never targeted again. Idempotent."""
        instance = self.get_object()
        if instance.deregistered_at is None:
            instance.deregister()
        return Response(self.get_serializer(instance).data)


class RegistrationTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = RegistrationTokenSerializer
    lookup_value_regex = "[0-9]+"
    access_actions = {"create": access.OWN, "revoke": access.OWN}

    def get_queryset(self):
        # The hosts each token enrolled, for the whole page in one query.
        enrolled = Instance.objects.order_by("name", "pk").only(
            "name", "registered_at", "deregistered_at", "registration_token_id"
        )
        queryset = RegistrationToken.objects.select_related("created_by", "project").prefetch_related(
            Prefetch("instances", queryset=enrolled)
        )
        return access.scope(queryset, self.request.user).order_by("-created_at", "-id")

    def filter_queryset(self, queryset):
        return lookup.member_project_filter(self.request, queryset) if self.action == "list" else queryset

    @extend_schema(request=RegistrationTokenSerializer, responses={201: IssuedTokenSerializer})
    def create(self, request, *args, **kwargs):
        access.require_project_in_body(request, access.OWN)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        expires_at = serializer.validated_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError({"expires_at": ["must be in the future"]})
        token, raw = RegistrationToken.issue(created_by=request.user, **serializer.validated_data)
        token.token = raw
        return Response(IssuedTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: RegistrationTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = self.get_object()
        token.revoke()
        return Response(self.get_serializer(token).data)
