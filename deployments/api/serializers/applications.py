from __future__ import annotations

from rest_framework import serializers

from dashboard.models import Role
from deployments.models import (
    ONE_AT_A_TIME,
    Application,
    DeploymentConfig,
    DeploymentGroup,
    DeploymentOption,
    DeploymentStyle,
    Revision,
)

from .common import ProjectField, TagFiltersField, TagSetField, username
from .safety import (
    AlarmConfigurationField,
    BlueGreenSerializer,
    HealthCheckField,
    LoadBalancerField,
    RollbackEventsField,
)


class ApplicationSerializer(serializers.ModelSerializer):
    project = ProjectField(role=Role.CONTRIBUTOR)
    created_by = serializers.SerializerMethodField()
    deployment_groups = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = ["name", "project", "created_at", "created_by", "deployment_groups"]
        read_only_fields = ["created_at"]

    def get_created_by(self, obj) -> str | None:
        return username(obj.created_by)

    def get_deployment_groups(self, obj) -> list[str]:
        # Prefetched by the view.
        return [group.name for group in obj.deployment_groups.all()]


class DeploymentGroupSerializer(serializers.ModelSerializer):
    application = serializers.CharField(source="application.name", read_only=True)
    deployment_config = serializers.SlugRelatedField(
        slug_field="name", queryset=DeploymentConfig.objects.all(), required=False
    )
    tag_filters = TagFiltersField(required=False)
    tag_set = TagSetField(required=False)
    instances = serializers.SerializerMethodField()
    auto_rollback_events = RollbackEventsField(required=False)
    health_check = HealthCheckField()
    alarm_configuration = AlarmConfigurationField()
    load_balancer_info = LoadBalancerField()
    blue_green_configuration = BlueGreenSerializer(required=False, allow_null=True)

    class Meta:
        model = DeploymentGroup
        fields = [
            "name",
            "application",
            "group_id",
            "deployment_config",
            "tag_filters",
            "tag_set",
            "deployment_style",
            "deployment_option",
            "ignore_application_stop_failures",
            "file_exists_behavior",
            "outdated_instances_strategy",
            "auto_rollback_events",
            "health_check",
            "alarm_configuration",
            "load_balancer_info",
            "blue_green_configuration",
            "instances",
            "created_at",
        ]
        read_only_fields = ["group_id", "created_at"]
        # Uniqueness per application is checked in validate_name: the application is not a field.
        validators: list = []

    def get_instances(self, obj) -> list[str]:
        """Names of the instances the group targets right now, computed by the view."""
        return self.context.get("matching", {}).get(obj.pk, [])

    def validate_name(self, value: str) -> str:
        application = self.context["application"]
        clash = DeploymentGroup.objects.filter(application=application, name=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(
                f"{application.name} already has a deployment group named {value}."
            )
        return value

    def validate(self, attrs: dict) -> dict:
        current = self.instance
        tag_filters = attrs.get("tag_filters", current.tag_filters if current else [])
        tag_set = attrs.get("tag_set", current.tag_set if current else [])
        if bool(tag_filters) == bool(tag_set):
            which = "both" if tag_filters else "neither"
            message = f"Give exactly one of tag_filters or tag_set (got {which})."
            raise serializers.ValidationError({"tag_filters": [message], "tag_set": [message]})
        option = attrs.get("deployment_option", current.deployment_option if current else None)
        load_balancer = attrs.get("load_balancer_info", current.load_balancer_info if current else {})
        style = attrs.get(
            "deployment_style", current.deployment_style if current else DeploymentStyle.IN_PLACE
        )
        blue_green = attrs.get(
            "blue_green_configuration", current.blue_green_configuration if current else {}
        )
        if style == DeploymentStyle.BLUE_GREEN:
            problems = {}
            if not blue_green:
                problems["blue_green_configuration"] = ["BLUE_GREEN needs a blue_green_configuration"]
            if option != DeploymentOption.WITH_TRAFFIC_CONTROL or not load_balancer:
                problems["deployment_option"] = [
                    "BLUE_GREEN moves traffic: use WITH_TRAFFIC_CONTROL and give load_balancer_info"
                ]
            if problems:
                raise serializers.ValidationError(problems)
        if option == DeploymentOption.WITH_TRAFFIC_CONTROL and not load_balancer:
            raise serializers.ValidationError(
                {
                    "deployment_option": [
                        "WITH_TRAFFIC_CONTROL needs load_balancer_info (an elbv2 or command router); "
                        "give one, or use WITHOUT_TRAFFIC_CONTROL."
                    ]
                }
            )
        if current is None and "deployment_config" not in attrs:
            attrs["deployment_config"] = DeploymentConfig.objects.get(name=ONE_AT_A_TIME)
        return attrs


class RevisionSerializer(serializers.ModelSerializer):
    application = serializers.CharField(source="application.name", read_only=True)
    uploaded_by = serializers.SerializerMethodField()

    class Meta:
        model = Revision
        fields = [
            "id",
            "application",
            "source",
            "bundle_type",
            "sha256",
            "size",
            "description",
            "appspec",
            "location",
            "uploaded_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_uploaded_by(self, obj) -> str | None:
        return username(obj.uploaded_by)


class RevisionUploadSerializer(serializers.Serializer):
    bundle = serializers.FileField(help_text="A zip, tar or tgz archive with appspec.yml at its root.")
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    s3_location = serializers.CharField(
        max_length=1024,
        required=False,
        allow_blank=True,
        default="",
        help_text="s3://bucket/prefix: store the bundle there with the project's AWS connection "
        "and register an S3 revision instead of keeping it on the server.",
    )
