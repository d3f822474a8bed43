from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deployments.models import Instance, InstanceGroupState, RegistrationToken
from projects.models import Role

from .common import ProjectField, TagsField, username

MAX_USES = 2**31 - 1  # the column is a 32-bit integer


class InstalledSerializer(serializers.ModelSerializer):
    application = serializers.CharField(source="group.application.name")
    deployment_group = serializers.CharField(source="group.name")
    revision_sha256 = serializers.SerializerMethodField()

    class Meta:
        model = InstanceGroupState
        fields = [
            "application",
            "deployment_group",
            "revision",
            "revision_sha256",
            "last_status",
            "last_deployment",
            "updated_at",
        ]
        read_only_fields = fields

    def get_revision_sha256(self, obj) -> str | None:
        return obj.revision.sha256 if obj.revision is not None else None


class InstanceSerializer(serializers.ModelSerializer):
    """Tags are the only field a user edits; the rest is reported by the agent."""

    tags = TagsField()
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    installed = InstalledSerializer(source="group_states", many=True, read_only=True)

    class Meta:
        model = Instance
        # Never credential_hash.
        fields = [
            "name",
            "project",
            "hostname",
            "tags",
            "platform",
            "agent_version",
            "ec2_instance_id",
            "online",
            "last_seen",
            "registered_at",
            "deregistered_at",
            "installed",
        ]
        read_only_fields = [f for f in fields if f != "tags"]


class RegisteredInstanceSerializer(serializers.ModelSerializer):
    """A host a token enrolled, as its owner sees it on the token."""

    class Meta:
        model = Instance
        fields = ["name", "registered_at", "deregistered_at"]
        read_only_fields = fields


class RegistrationTokenSerializer(serializers.ModelSerializer):
    project = ProjectField(role=Role.OWNER)
    tags = TagsField(required=False)
    max_uses = serializers.IntegerField(
        min_value=1,
        max_value=MAX_USES,
        required=False,
        allow_null=True,
        help_text="How many hosts it may enrol; null (the default) for no limit. A host registering "
        "again with its own credential does not count.",
    )
    usable = serializers.BooleanField(source="is_usable", read_only=True)
    created_by = serializers.SerializerMethodField()
    instances = RegisteredInstanceSerializer(many=True, read_only=True)

    class Meta:
        model = RegistrationToken
        fields = [
            "id",
            "project",
            "prefix",
            "description",
            "tags",
            "expires_at",
            "revoked_at",
            "usable",
            "uses",
            "max_uses",
            "last_used_at",
            "created_by",
            "created_at",
            "instances",
        ]
        read_only_fields = ["id", "prefix", "revoked_at", "uses", "last_used_at", "created_at", "instances"]

    def get_created_by(self, obj) -> str | None:
        return username(obj.created_by)


@extend_schema_field(serializers.CharField(help_text="The raw token. Shown once, in this answer only."))
class _TokenField(serializers.CharField):
    pass


class IssuedTokenSerializer(RegistrationTokenSerializer):
    """The create answer: the only place the raw token is ever shown."""

    token = _TokenField(read_only=True)

    class Meta(RegistrationTokenSerializer.Meta):
        fields = ["id", "token", *RegistrationTokenSerializer.Meta.fields[1:]]
