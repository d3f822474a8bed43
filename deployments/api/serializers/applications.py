from __future__ import annotations

from rest_framework import serializers
from rest_framework.utils.serializer_helpers import ReturnDict

from deployments import integration_points
from deployments.models import (
    ONE_AT_A_TIME,
    Application,
    BundleType,
    DeploymentConfig,
    DeploymentGroup,
    DeploymentOption,
    DeploymentStyle,
    Revision,
)
from deployments.models.application import NAME_VALIDATOR
from projects.models import Role

from .common import ProjectField, TagFiltersField, TagSetField, username
from .safety import (
    AlarmConfigurationField,
    BlueGreenSerializer,
    HealthCheckField,
    LoadBalancerField,
    RollbackEventsField,
)


class ApplicationSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100, validators=[NAME_VALIDATOR])
    project = ProjectField(role=Role.CONTRIBUTOR)
    created_by = serializers.SerializerMethodField()
    deployment_groups = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = ["name", "project", "created_at", "created_by", "deployment_groups"]
        read_only_fields = ["created_at"]
        # Names are unique per project, checked in validate() with a message that names the project.
        validators: list = []

    def validate(self, attrs: dict) -> dict:
        project, name = attrs["project"], attrs["name"]
        if Application.objects.filter(project=project, name=name).exists():
            raise serializers.ValidationError(
                {"name": [f"{project.slug} already has an application named {name}."]}
            )
        return attrs

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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The built-ins and the application's project's own: another project's config reads as unknown.
        application = self.context.get("application")
        self.fields["deployment_config"].queryset = DeploymentConfig.usable_in(
            application.project_id if application is not None else None
        )

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
            attrs["deployment_config"] = DeploymentConfig.objects.get(name=ONE_AT_A_TIME, builtin=True)
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


def _bundle_type_of(key: str) -> str:
    name = key.lower()
    for suffix, kind in ((".zip", "zip"), (".tar", "tar"), (".tgz", "tgz"), (".tar.gz", "tgz")):
        if name.endswith(suffix):
            return kind
    return ""


class S3LocationSerializer(serializers.Serializer):
    """CodeDeploy's s3Location: an archive the project's AWS connection can read."""

    bucket = serializers.CharField(max_length=63)
    key = serializers.CharField(max_length=1024)
    bundle_type = serializers.ChoiceField(
        choices=BundleType.choices,
        required=False,
        help_text="zip, tar or tgz; by default taken from the key's extension.",
    )
    version = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", help_text="S3 version id to pin."
    )
    etag = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Refuse the object unless its ETag is this one.",
    )

    def validate(self, attrs):
        if not attrs.get("bundle_type"):
            attrs["bundle_type"] = _bundle_type_of(attrs["key"])
            if not attrs["bundle_type"]:
                raise serializers.ValidationError(
                    {
                        "bundle_type": [
                            f"s3://{attrs['bucket']}/{attrs['key']} does not end in .zip, .tar or .tgz: "
                            "give bundle_type (zip, tar or tgz)."
                        ]
                    }
                )
        return attrs


class GitHubLocationSerializer(serializers.Serializer):
    """CodeDeploy's gitHubLocation: a commit of the project's connected repository."""

    repository = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="owner/repo; must be the project's connected repository (the default).",
    )
    commit = serializers.CharField(max_length=40, help_text="The commit id (7 to 40 hex digits).")


def flat_errors(errors, prefix: str = "") -> dict:
    """{"s3": {"key": [...]}} -> {"s3.key": [...]}, so every message names its field in one line."""
    flat: dict = {}
    for name, messages in errors.items():
        if not prefix:
            field = name
        elif name == "non_field_errors":
            field = prefix
        else:
            field = f"{prefix}.{name}"
        if isinstance(messages, dict):
            flat.update(flat_errors(messages, field))
        else:
            flat.setdefault(field, []).extend(messages)
    return flat


class RevisionRegisterSerializer(serializers.Serializer):
    """Register a revision that lives in S3 or GitHub (JSON); the server checks it exists first.

    `save()` talks to S3 or GitHub once, synchronously, and stores nothing when the check fails.
    Context: "application" and "user".
    """

    s3 = S3LocationSerializer(required=False, help_text="An archive in S3 (give this or github).")
    github = GitHubLocationSerializer(required=False, help_text="A GitHub commit (give this or s3).")
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @property
    def errors(self):
        return ReturnDict(flat_errors(super().errors), serializer=self)

    def validate(self, attrs):
        given = [name for name in ("s3", "github") if attrs.get(name)]
        if len(given) != 1:
            raise serializers.ValidationError(
                "Give exactly one of s3 ({bucket, key, ...}) or github ({repository, commit})."
            )
        return attrs

    def create(self, validated_data) -> Revision:
        application, user = self.context["application"], self.context.get("user")
        description = validated_data["description"]
        if s3 := validated_data.get("s3"):
            try:
                revision = integration_points.register_s3_revision(
                    application,
                    f"s3://{s3['bucket']}/{s3['key']}",
                    bundle_type=s3["bundle_type"],
                    version=s3["version"],
                    etag=s3["etag"],
                    user=user,
                )
            except integration_points.RevisionRefused as exc:
                raise serializers.ValidationError({"s3": [_s3_advice(str(exc))]}) from None
            if description:
                revision.description = description
                revision.save(update_fields=["description"])
            return revision
        github = validated_data["github"]
        try:
            return integration_points.register_github_revision(
                application, github["repository"], github["commit"], description=description, user=user
            )
        except integration_points.RevisionRefused as exc:
            field = f"github.{exc.field}" if exc.field else "github"
            raise serializers.ValidationError({field: [exc.message]}) from None


def _s3_advice(message: str) -> str:
    """The S3 integration says what is wrong; add what to do about it."""
    if " cannot be read: " in message:
        return f"{message}. Check the bucket, key and version, and that the AWS connection may read them."
    if " has ETag " in message:
        return f"{message}. Give the object's current ETag, or its version id to pin the one you meant."
    return message
