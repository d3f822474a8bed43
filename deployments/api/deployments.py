"""Deployments: create, list, inspect, stop, follow the event log, and preview rollout plans."""

from __future__ import annotations

from django.db.models import Count, Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from deployments import access, engine, eventlog, integration_points
from deployments.access import ActionPermission
from deployments.engine import DeploymentError
from deployments.models import (
    Creator,
    Deployment,
    DeploymentStatus,
    DeploymentTarget,
    ErrorCode,
    LifecycleEvent,
)
from projects.api.exceptions import Conflict

from . import lookup
from .base import ApiViewSet, int_param
from .serializers.deployments import (
    DeploymentCreateSerializer,
    DeploymentDetailSerializer,
    DeploymentSerializer,
    PlanRequestSerializer,
    PlanSerializer,
)

EVENTS_DEFAULT_LIMIT = 500
EVENTS_MAX_LIMIT = 2000

_StatusSerializer = inline_serializer(
    "DeploymentStatusAnswer", {"id": serializers.CharField(), "status": serializers.CharField()}
)
_EventsSerializer = inline_serializer(
    "DeploymentEventPage",
    {
        "events": serializers.ListField(child=serializers.DictField()),
        "last_seq": serializers.IntegerField(),
        "status": serializers.CharField(),
        "done": serializers.BooleanField(),
        "has_more": serializers.BooleanField(),
        "log_expired_at": serializers.DateTimeField(
            allow_null=True, help_text="When retention deleted the log lines; state changes stay."
        ),
    },
)


def _choice(request, name: str, choices: list[str]) -> str | None:
    value = request.query_params.get(name)
    if value and value not in choices:
        raise ValidationError({name: [f"{value!r} is not one of {', '.join(choices)}"]})
    return value or None


def _target_context(request) -> dict:
    """The application the body names, with the caller's role in its project checked first: a
    viewer gets a 403, not what is wrong with the rest of the body."""
    application = lookup.application_in_body(request)
    if application is not None:
        access.require(request.user, access.DEPLOY, application)
        lookup.refuse_other_project(request, application.project)
    return {"request": request, "application": application}


def _raise_for(exc: DeploymentError):
    error = ValidationError({exc.field or "non_field_errors": [exc.message]})
    if exc.code in ErrorCode.values:
        error.error_code = exc.code  # CodeDeploy's code for the refusal, e.g. REVISION_MISSING
    raise error from None


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("project", str, description="Project slug"),
            OpenApiParameter("application", str, description="Application name"),
            OpenApiParameter("deployment_group", str, description="Group name, or application/group"),
            OpenApiParameter("status", str, enum=DeploymentStatus.values),
            OpenApiParameter("creator", str, enum=Creator.values),
        ]
    )
)
class DeploymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = DeploymentSerializer
    lookup_value_regex = "d-[A-Z0-9]+"
    access_actions = {"create": access.DEPLOY, "stop": access.DEPLOY, "continue_": access.DEPLOY}

    def get_queryset(self):
        queryset = self._queryset(with_targets=self.action == "retrieve")
        return access.scope(queryset, self.request.user, "application__project")

    @staticmethod
    def _queryset(*, with_targets: bool):
        queryset = Deployment.objects.select_related(
            "application__project", "deployment_group", "deployment_config", "created_by", "rolled_back_by"
        ).order_by("-created_at", "-id")
        if with_targets:
            events = LifecycleEvent.objects.order_by("position")
            targets = (
                DeploymentTarget.objects.select_related("instance")
                .prefetch_related(Prefetch("events", queryset=events))
                .order_by("position")
            )
            queryset = queryset.prefetch_related(Prefetch("targets", queryset=targets)).annotate(
                has_issue_links=integration_points.has_issue_links()
            )
        return queryset

    def get_serializer_class(self):
        return DeploymentDetailSerializer if self.action == "retrieve" else DeploymentSerializer

    def filter_queryset(self, queryset):
        params = self.request.query_params
        queryset = lookup.member_project_filter(self.request, queryset, "application__project")
        if params.get("application"):
            queryset = queryset.filter(application__name=params["application"])
        group = params.get("deployment_group")
        if group:
            app_name, _, group_name = group.rpartition("/")
            queryset = queryset.filter(deployment_group__name=group_name)
            if app_name:
                queryset = queryset.filter(application__name=app_name)
        if wanted := _choice(self.request, "status", DeploymentStatus.values):
            queryset = queryset.filter(status=wanted)
        if creator := _choice(self.request, "creator", Creator.values):
            queryset = queryset.filter(creator=creator)
        return queryset

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        overviews: dict[str, dict[str, int]] = {}
        # One aggregate for the whole page, never one per row.
        rows = (
            DeploymentTarget.objects.filter(deployment_id__in=[d.pk for d in page])
            .values("deployment_id", "status")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            overviews.setdefault(row["deployment_id"], {})[row["status"]] = row["n"]
        context = {**self.get_serializer_context(), "overviews": overviews}
        return self.get_paginated_response(DeploymentSerializer(page, many=True, context=context).data)

    @extend_schema(request=DeploymentCreateSerializer, responses={201: DeploymentDetailSerializer})
    def create(self, request, *args, **kwargs):
        serializer = DeploymentCreateSerializer(data=request.data, context=_target_context(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            deployment = engine.create_deployment(
                group=data["deployment_group"],
                revision=data["revision"],
                config=data.get("deployment_config"),
                user=request.user,
                description=data["description"],
                file_exists_behavior=data.get("file_exists_behavior"),
                ignore_application_stop_failures=data["ignore_application_stop_failures"],
                auto_rollback_events=data["auto_rollback_events"],
            )
        except DeploymentError as exc:
            _raise_for(exc)
        fresh = self._queryset(with_targets=True).get(pk=deployment.pk)
        return Response(DeploymentDetailSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: _StatusSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        deployment = self.get_object()
        if deployment.is_terminal or not engine.request_stop(deployment.pk, by=request.user.get_username()):
            deployment.refresh_from_db(fields=["status"])
            raise Conflict(
                f"Deployment {deployment.pk} already finished ({deployment.status}); nothing to stop."
            )
        deployment.refresh_from_db(fields=["status", "error_code"])
        return Response(
            {"id": deployment.pk, "status": deployment.status, "error_code": deployment.error_code},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=None, responses={202: _StatusSerializer})
    @action(detail=True, methods=["post"], url_path="continue")
    def continue_(self, request, pk=None):
        """Reroute traffic now: for a blue/green deployment waiting in Ready."""
        deployment = self.get_object()
        if not engine.continue_deployment(deployment.pk):
            deployment.refresh_from_db(fields=["status"])
            raise Conflict(
                f"Deployment {deployment.pk} is {deployment.status}; only a blue/green deployment waiting "
                "in Ready can be continued."
            )
        deployment.refresh_from_db(fields=["status", "error_code"])
        return Response(
            {"id": deployment.pk, "status": deployment.status, "error_code": deployment.error_code},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="Return events with a sequence number above this one"),
            OpenApiParameter(
                "limit",
                int,
                description=f"At most this many (default {EVENTS_DEFAULT_LIMIT}, max {EVENTS_MAX_LIMIT})",
            ),
        ],
        responses={200: _EventsSerializer},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def events(self, request, pk=None):
        after = int_param(request, "after", 0)
        limit = int_param(request, "limit", EVENTS_DEFAULT_LIMIT, minimum=1, maximum=EVENTS_MAX_LIMIT)
        # Read the status before the events: "done" must never be claimed for events not yet returned.
        deployment = self.get_object()
        rows = eventlog.since(deployment.pk, after, limit)
        last_seq = rows[-1].seq if rows else after
        return Response(
            {
                "events": [row.as_dict() for row in rows],
                "last_seq": last_seq,
                "status": deployment.status,
                "done": deployment.is_terminal and last_seq >= deployment.event_seq,
                "has_more": last_seq < deployment.event_seq,
                "log_expired_at": deployment.log_expired_at,
            }
        )

    @extend_schema(responses={200: PlanSerializer})
    @action(detail=True, methods=["get"], pagination_class=None)
    def plan(self, request, pk=None):
        return Response(engine.deployment_plan(self.get_object()).as_dict())


class DeploymentPlanView(GenericAPIView):
    """Preview a rollout without creating it. Invalid plans answer 200 with valid false."""

    permission_classes = [ActionPermission]
    access_actions = {"create": access.DEPLOY}
    serializer_class = PlanRequestSerializer
    action = "create"

    @extend_schema(request=PlanRequestSerializer, responses={200: PlanSerializer})
    def post(self, request):
        serializer = PlanRequestSerializer(data=request.data, context=_target_context(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        group = data["deployment_group"]
        plan = engine.preview_plan(
            group, data.get("deployment_config") or group.deployment_config, data.get("revision")
        )
        return Response(plan.as_dict())
