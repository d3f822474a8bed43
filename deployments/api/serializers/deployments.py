from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deployments import access, integration_points
from deployments.models import (
    Application,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    DeploymentTarget,
    EventStatus,
    FileExistsBehavior,
    LifecycleEvent,
    Revision,
    TargetStatus,
)

from .common import username
from .safety import RollbackEventsField

OVERVIEW_KEYS = tuple(TargetStatus.values)


def overview(counts: dict[str, int]) -> dict[str, int]:
    return {key: counts.get(key, 0) for key in OVERVIEW_KEYS}


class _Overview(serializers.Serializer):
    Pending = serializers.IntegerField()
    InProgress = serializers.IntegerField()
    Succeeded = serializers.IntegerField()
    Failed = serializers.IntegerField()
    Skipped = serializers.IntegerField()
    Unknown = serializers.IntegerField()
    Ready = serializers.IntegerField()


class GroupTargetFields(serializers.Serializer):
    """Resolve application, group, config and revision names; shared by deployments and plan previews.

    Context: "request", and "application": the one the view resolved from the body (`application`,
    with `project` where the name is in several of the caller's projects) and checked the caller's
    role in, before this runs. Only that application resolves here; any other name reads as unknown.
    """

    application = serializers.SlugRelatedField(slug_field="name", queryset=Application.objects.none())
    project = serializers.CharField(
        required=False, help_text="The application's project: needed when its name is in several of yours."
    )
    deployment_group = serializers.CharField()
    deployment_config = serializers.SlugRelatedField(
        slug_field="name", queryset=DeploymentConfig.objects.none(), required=False, allow_null=True
    )
    revision = serializers.PrimaryKeyRelatedField(queryset=Revision.objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        application = self.context.get("application")
        request = self.context.get("request")
        if application is not None:
            self.fields["application"].queryset = Application.objects.filter(pk=application.pk)
            # The built-ins and the project's own configs: another project's reads as unknown.
            self.fields["deployment_config"].queryset = DeploymentConfig.usable_in(application.project_id)
        else:
            self.fields["deployment_config"].queryset = DeploymentConfig.objects.filter(builtin=True)
        if request is not None:
            self.fields["revision"].queryset = access.scope(
                Revision.objects.all(), request.user, "application__project"
            )

    def validate(self, attrs: dict) -> dict:
        application = attrs["application"]
        group = (
            DeploymentGroup.objects.filter(application=application, name=attrs["deployment_group"])
            .select_related("application", "deployment_config")
            .first()
        )
        if group is None:
            raise serializers.ValidationError(
                {
                    "deployment_group": [
                        f"{application.name} has no deployment group named {attrs['deployment_group']}."
                    ]
                }
            )
        attrs["deployment_group"] = group
        revision = attrs.get("revision")
        if revision is not None and revision.application_id != application.pk:
            raise serializers.ValidationError(
                {
                    "revision": [
                        f"Revision {revision.pk} belongs to another application, not {application.name}."
                    ]
                }
            )
        return attrs


class DeploymentCreateSerializer(GroupTargetFields):
    file_exists_behavior = serializers.ChoiceField(choices=FileExistsBehavior.choices, required=False)
    ignore_application_stop_failures = serializers.BooleanField(required=False, allow_null=True, default=None)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    # None: the group's setting; a list (possibly empty) overrides it for this deployment.
    auto_rollback_events = RollbackEventsField(required=False, allow_null=True, default=None)


class PlanRequestSerializer(GroupTargetFields):
    revision = serializers.PrimaryKeyRelatedField(
        queryset=Revision.objects.all(), required=False, allow_null=True
    )


class PlanSerializer(serializers.Serializer):
    """The shape of planner.Plan.as_dict(), for the schema."""

    valid = serializers.BooleanField()
    reason = serializers.CharField()
    error_code = serializers.CharField()
    fleet_size = serializers.IntegerField()
    minimum_healthy = serializers.IntegerField()
    batch_size = serializers.IntegerField()
    arithmetic = serializers.CharField()
    batches = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))


class DeploymentSerializer(serializers.ModelSerializer):
    """The list row: no targets. The view supplies `overviews` for the page from one aggregate query."""

    # Names are per project: the project says which application (and config) a name is.
    project = serializers.CharField(source="application.project.slug", allow_null=True, read_only=True)
    application = serializers.CharField(source="application.name")
    deployment_group = serializers.CharField(source="deployment_group.name")
    deployment_config = serializers.CharField(source="deployment_config.name")
    revision = serializers.IntegerField(source="revision_id")
    created_by = serializers.SerializerMethodField()
    rolled_back_by = serializers.SerializerMethodField()
    overview = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = [
            "id",
            "status",
            "error_code",
            "error_message",
            "creator",
            "created_by",
            "project",
            "application",
            "deployment_group",
            "revision",
            "deployment_config",
            "description",
            "file_exists_behavior",
            "ignore_application_stop_failures",
            "created_at",
            "started_at",
            "ended_at",
            "minimum_healthy",
            "rollback_of",
            "rolled_back_by",
            "overview",
            "log_expired_at",
        ]
        read_only_fields = fields

    def get_created_by(self, obj) -> str | None:
        return username(obj.created_by)

    def get_rolled_back_by(self, obj) -> str | None:
        try:
            return obj.rolled_back_by.pk  # select_related by the view
        except ObjectDoesNotExist:
            return None

    @extend_schema_field(_Overview)
    def get_overview(self, obj) -> dict:
        return overview(self.context.get("overviews", {}).get(obj.pk, {}))


class DiagnosticsSerializer(serializers.Serializer):
    error_code = serializers.CharField()
    script_name = serializers.CharField()
    message = serializers.CharField()
    log_tail = serializers.CharField()


def _status(choices) -> serializers.CharField:
    # Plain strings in the schema: three different "status" enums would collide in drf-spectacular's
    # enum naming, and the values are listed in the description anyway.
    return serializers.CharField(read_only=True, help_text="One of " + ", ".join(choices.values))


class LifecycleEventSerializer(serializers.ModelSerializer):
    status = _status(EventStatus)
    duration_ms = serializers.SerializerMethodField()
    diagnostics = DiagnosticsSerializer(allow_null=True, read_only=True)

    class Meta:
        model = LifecycleEvent
        fields = ["name", "status", "started_at", "ended_at", "duration_ms", "diagnostics"]
        read_only_fields = fields

    def get_duration_ms(self, obj) -> int | None:
        if obj.started_at is None or obj.ended_at is None:
            return None
        return int((obj.ended_at - obj.started_at).total_seconds() * 1000)


class TargetSerializer(serializers.ModelSerializer):
    instance = serializers.CharField(source="instance.name")
    status = _status(TargetStatus)
    lifecycle_events = LifecycleEventSerializer(source="events", many=True, read_only=True)

    class Meta:
        model = DeploymentTarget
        fields = [
            "instance",
            "status",
            "position",
            "batch",
            "role",
            "started_at",
            "ended_at",
            "message",
            "lifecycle_events",
        ]
        read_only_fields = fields


class IssueLinkSerializer(serializers.Serializer):
    tracker = serializers.CharField(help_text="jira or github")
    key = serializers.CharField(help_text='"SHOP-7", or "#12" for a GitHub issue')
    title = serializers.CharField()
    status = serializers.CharField()
    url = serializers.CharField()


class DeploymentDetailSerializer(DeploymentSerializer):
    targets = TargetSerializer(many=True, read_only=True)
    issues = serializers.SerializerMethodField(
        help_text="The issues this deployment ships (from its commits and description), as the "
        "deployment page links them."
    )

    class Meta(DeploymentSerializer.Meta):
        fields = [*DeploymentSerializer.Meta.fields, "targets", "issues"]
        read_only_fields = fields

    @extend_schema_field(IssueLinkSerializer(many=True))
    def get_issues(self, obj) -> list[dict]:
        # The view annotates has_issue_links: a deployment without links costs no query here.
        if not getattr(obj, "has_issue_links", True):
            return []
        return integration_points.issue_links(obj.pk)

    @extend_schema_field(_Overview)
    def get_overview(self, obj) -> dict:
        counts: dict[str, int] = {}
        for target in obj.targets.all():  # prefetched
            counts[target.status] = counts.get(target.status, 0) + 1
        return overview(counts)
