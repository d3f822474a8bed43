from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deployments.models import DeploymentConfig, MinimumHealthyType

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


class DeploymentConfigSerializer(serializers.ModelSerializer):
    minimum_healthy_hosts = MinimumHealthyHostsField()

    class Meta:
        model = DeploymentConfig
        fields = ["name", "minimum_healthy_hosts", "builtin", "created_at"]
        read_only_fields = ["builtin", "created_at"]

    def validate_name(self, value: str) -> str:
        if value.startswith(BUILTIN_PREFIX):
            raise serializers.ValidationError(
                f"Names starting with {BUILTIN_PREFIX} are reserved for built-ins."
            )
        return value
