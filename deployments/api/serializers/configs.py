from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deployments.models import DeploymentConfig, MinimumHealthyType
from deployments.models.application import NAME_VALIDATOR
from projects.models import Role

from .common import ProjectField

BUILTIN_PREFIX = "CodeDeployDefault."
MAX_HOST_COUNT = 2**31 - 1  # the column is a 32-bit integer


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": MinimumHealthyType.values},
            "value": {"type": "integer", "minimum": 0, "maximum": MAX_HOST_COUNT},
        },
        "required": ["type", "value"],
    }
)
class MinimumHealthyHostsField(serializers.Field):
    """{"type": HOST_COUNT|FLEET_PERCENT, "value": n}, stored as two columns."""

    def __init__(self, **kwargs):
        super().__init__(source="*", **kwargs)

    def to_representation(self, obj: DeploymentConfig) -> dict:
        return {"type": obj.minimum_healthy_type, "value": obj.minimum_healthy_value}

    def to_internal_value(self, data) -> dict:
        if not isinstance(data, dict) or set(data) != {"type", "value"}:
            raise serializers.ValidationError('Give {"type": "HOST_COUNT" or "FLEET_PERCENT", "value": n}.')
        kind, value = data["type"], data["value"]
        if kind not in MinimumHealthyType.values:
            raise serializers.ValidationError(
                f"type {kind!r} is not one of {', '.join(MinimumHealthyType.values)}."
            )
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_HOST_COUNT:
            raise serializers.ValidationError(
                f"value must be a non-negative integer up to {MAX_HOST_COUNT}, not {str(value)[:40]}."
            )
        if kind == MinimumHealthyType.FLEET_PERCENT and value > 99:
            raise serializers.ValidationError(f"FLEET_PERCENT must be between 0 and 99, not {value}.")
        return {"minimum_healthy_type": kind, "minimum_healthy_value": value}


def name_taken(project, name: str) -> str:
    return f"{project.slug} already has a deployment configuration named {name}."


class DeploymentConfigSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100, validators=[NAME_VALIDATOR])
    project = ProjectField(
        role=Role.CONTRIBUTOR,
        required=False,
        allow_null=True,
        help_text="The project it belongs to (null for the built-ins). Given when creating one; on an "
        "update it may only say which project's config of that name is meant.",
    )
    minimum_healthy_hosts = MinimumHealthyHostsField()

    class Meta:
        model = DeploymentConfig
        fields = ["name", "project", "minimum_healthy_hosts", "builtin", "created_at"]
        read_only_fields = ["builtin", "created_at"]
        # Names are unique per project, checked in validate() with a message that names the project.
        validators: list = []

    def validate_name(self, value: str) -> str:
        if value.startswith(BUILTIN_PREFIX):
            raise serializers.ValidationError(
                f"Names starting with {BUILTIN_PREFIX} are reserved for built-ins."
            )
        return value

    def validate(self, attrs: dict) -> dict:
        current = self.instance
        if current is not None:
            if "project" in attrs and attrs["project"] != current.project:
                raise serializers.ValidationError(
                    {
                        "project": [
                            "A configuration stays in its project; create one in the other project instead."
                        ]
                    }
                )
            project = current.project
        else:
            project = attrs.get("project")
            if project is None:
                raise serializers.ValidationError(
                    {"project": ["Give the slug of the project it belongs to."]}
                )
        name = attrs.get("name", current.name if current else None)
        clash = DeploymentConfig.objects.filter(project=project, name=name)
        if current is not None:
            clash = clash.exclude(pk=current.pk)
        if clash.exists():
            raise serializers.ValidationError({"name": [name_taken(project, name)]})
        return attrs
