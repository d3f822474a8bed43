"""/api/v1/projects/{slug}/ec2-discovery/: which EC2 instances each deployment group should reach and
which of them have no agent, as on the Integrations page's "EC2 fleets". Owners only."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from deployments.models import DeploymentGroup
from integrations.forms import Ec2DiscoveryForm
from integrations.models import Ec2Discovery
from integrations.tasks import discover_ec2

from .common import OwnerView, form_errors, refuse_unknown


class TagFilterSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.CharField(allow_blank=True)


class Ec2DiscoverySerializer(serializers.Serializer):
    application = serializers.CharField()
    deployment_group = serializers.CharField()
    tag_filters = TagFilterSerializer(many=True, help_text="ORed, like CodeDeploy's ec2TagFilters")
    autoscaling_groups = serializers.ListField(child=serializers.CharField())
    matched = serializers.ListField(child=serializers.CharField(), read_only=True)
    missing = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Matching instances with no agent"
    )
    checked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    error = serializers.CharField(read_only=True)


def _row(group: DeploymentGroup, discovery: Ec2Discovery | None) -> dict:
    return {
        "application": group.application.name,
        "deployment_group": group.name,
        "tag_filters": discovery.tag_filters if discovery else [],
        "autoscaling_groups": discovery.autoscaling_groups if discovery else [],
        "matched": discovery.matched if discovery else [],
        "missing": discovery.missing if discovery else [],
        "checked_at": discovery.checked_at if discovery else None,
        "error": discovery.error if discovery else "",
    }


def _lines(value, what: str) -> str:
    """The API's lists as the form's lines, so the page and the API parse one way."""
    if not isinstance(value, list) or not all(
        isinstance(v, dict if what == "tag_filters" else str) for v in value
    ):
        shape = '{"key": …, "value": …} objects' if what == "tag_filters" else "names"
        raise form_errors_for(what, f"Send a list of {shape}.")
    if what == "tag_filters":
        if not all(item.get("key") for item in value):
            raise form_errors_for(what, "Each filter needs a key.")
        return Ec2DiscoveryForm.tag_lines(value)
    return "\n".join(value)


def form_errors_for(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


class Ec2DiscoveryListView(OwnerView):
    @extend_schema(responses=Ec2DiscoverySerializer(many=True), summary="EC2 discovery of every group")
    def get(self, request, slug):
        groups = DeploymentGroup.objects.filter(application__project=self.project).select_related(
            "application"
        )
        found = {d.group_id: d for d in Ec2Discovery.objects.filter(group__in=groups)}
        return Response([_row(g, found.get(g.pk)) for g in groups.order_by("application__name", "name")])


class Ec2DiscoveryView(OwnerView):
    def _group(self, application: str, group: str) -> DeploymentGroup:
        found = (
            DeploymentGroup.objects.filter(
                application__project=self.project, application__name=application, name=group
            )
            .select_related("application")
            .first()
        )
        if found is None:
            raise Http404("No such deployment group in this project.")
        return found

    @extend_schema(responses=Ec2DiscoverySerializer, summary="A group's EC2 discovery")
    def get(self, request, slug, application, group):
        found = self._group(application, group)
        return Response(_row(found, Ec2Discovery.objects.filter(group=found).first()))

    @extend_schema(
        request=Ec2DiscoverySerializer, responses=Ec2DiscoverySerializer, summary="Set it and look up now"
    )
    def put(self, request, slug, application, group):
        found = self._group(application, group)
        data = refuse_unknown(request.data, {"tag_filters", "autoscaling_groups"})
        form = Ec2DiscoveryForm(
            {
                "tag_filters": _lines(data.get("tag_filters", []), "tag_filters"),
                "autoscaling_groups": _lines(data.get("autoscaling_groups", []), "autoscaling_groups"),
            }
        )
        if not form.is_valid():
            raise form_errors(form)
        with transaction.atomic():
            discovery, _ = Ec2Discovery.objects.update_or_create(
                group=found,
                defaults={
                    "tag_filters": form.cleaned_data["tag_filters"],
                    "autoscaling_groups": form.cleaned_data["autoscaling_groups"],
                },
            )
            transaction.on_commit(lambda: discover_ec2.delay(found.pk))
        return Response(_row(found, discovery))
