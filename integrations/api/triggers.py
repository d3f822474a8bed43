"""/api/v1/projects/{slug}/triggers/ and the delivery logs: the same owner check and the same form as
the trigger pages. A trigger's secret (and a Slack trigger's URL) is write-only."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from deployments.models import DeploymentGroup
from integrations.forms import TriggerForm
from integrations.models import GitHubDelivery, Trigger, TriggerDelivery

from .common import OwnerView, form_errors, refuse_unknown
from .serializers import GitHubDeliverySerializer, TriggerDeliverySerializer, TriggerSerializer

WRITABLE = {"name", "application", "deployment_group", "events", "kind", "target", "secret", "enabled"}


def _triggers(project):
    return Trigger.objects.filter(group__application__project=project).select_related("group__application")


def _group(project, data: dict, current: Trigger | None):
    """The group the body names (application and deployment_group), in this project only."""
    application = data.get("application", current.group.application.name if current else None)
    name = data.get("deployment_group", current.group.name if current else None)
    if not application or not name:
        return None
    return DeploymentGroup.objects.filter(
        application__project=project, application__name=application, name=name
    ).first()


def _save(request, project, current: Trigger | None) -> Trigger:
    data = refuse_unknown(request.data, WRITABLE)
    group = _group(project, data, current)
    if group is None:
        raise form_errors_for_group(data, current)
    form_data = {
        "group": group.pk,
        "name": data.get("name", current.name if current else ""),
        "events": data.get("events", current.events if current else []),
        "kind": data.get("kind", current.kind if current else "webhook"),
        "target": data.get("target", "" if current is None or current.kind == "slack" else current.target),
        "secret": data.get("secret", ""),
        "enabled": data.get("enabled", current.enabled if current else True),
    }
    form = TriggerForm(form_data, instance=current, project=project)
    if not form.is_valid():
        raise form_errors(form, {"group": "deployment_group"})
    return form.save()


def form_errors_for_group(data: dict, current) -> ValidationError:
    if current is None and not (data.get("application") and data.get("deployment_group")):
        return ValidationError(
            {"deployment_group": ["Name the application and its deployment group the trigger watches."]}
        )
    return ValidationError(
        {
            "deployment_group": [
                f"This project has no deployment group {data.get('deployment_group')!r} in "
                f"application {data.get('application')!r}."
            ]
        }
    )


class TriggerListView(OwnerView):
    @extend_schema(responses=TriggerSerializer(many=True), summary="The project's triggers")
    def get(self, request, slug):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(_triggers(self.project), request, view=self)
        return paginator.get_paginated_response(TriggerSerializer(page, many=True).data)

    @extend_schema(request=TriggerSerializer, responses={201: TriggerSerializer}, summary="Add a trigger")
    def post(self, request, slug):
        trigger = _save(request, self.project, None)
        return Response(TriggerSerializer(trigger).data, status=status.HTTP_201_CREATED)


class TriggerView(OwnerView):
    def _trigger(self, pk: int) -> Trigger:
        trigger = _triggers(self.project).filter(pk=pk).first()
        if trigger is None:
            raise Http404("No such trigger in this project.")
        return trigger

    @extend_schema(responses=TriggerSerializer, summary="A trigger")
    def get(self, request, slug, pk):
        return Response(TriggerSerializer(self._trigger(pk)).data)

    @extend_schema(request=TriggerSerializer, responses=TriggerSerializer, summary="Change a trigger")
    def patch(self, request, slug, pk):
        trigger = _save(request, self.project, self._trigger(pk))
        return Response(TriggerSerializer(trigger).data)

    @extend_schema(responses={204: None}, summary="Delete a trigger")
    def delete(self, request, slug, pk):
        self._trigger(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class TriggerDeliveryListView(OwnerView):
    """Every trigger's delivery attempts, newest first; `?trigger=ID` for one trigger's."""

    @extend_schema(
        parameters=[OpenApiParameter("trigger", int, description="Only this trigger's deliveries")],
        responses=TriggerDeliverySerializer(many=True),
        summary="Trigger delivery log",
    )
    def get(self, request, slug, pk=None):
        deliveries = TriggerDelivery.objects.filter(trigger__group__application__project=self.project)
        wanted = pk if pk is not None else request.query_params.get("trigger")
        if wanted not in (None, ""):
            try:
                deliveries = deliveries.filter(trigger_id=int(wanted))
            except ValueError:
                raise ValidationError({"trigger": [f"must be a trigger id, not {wanted!r}"]}) from None
            if pk is not None and not _triggers(self.project).filter(pk=pk).exists():
                raise Http404("No such trigger in this project.")
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(deliveries.select_related("trigger"), request, view=self)
        return paginator.get_paginated_response(TriggerDeliverySerializer(page, many=True).data)


class GitHubDeliveryListView(OwnerView):
    @extend_schema(responses=GitHubDeliverySerializer(many=True), summary="GitHub push webhook log")
    def get(self, request, slug):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            GitHubDelivery.objects.filter(project=self.project), request, view=self
        )
        return paginator.get_paginated_response(GitHubDeliverySerializer(page, many=True).data)
