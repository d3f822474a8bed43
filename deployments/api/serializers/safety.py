"""Validated shapes for a group's safety nets and traffic settings. Each error names the key."""

from __future__ import annotations

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.outbound import OutboundRefused, check_url
from deployments import healthcheck, traffic
from deployments.rollout import bluegreen_config
from deployments.rollout.rollback import ROLLBACK_EVENTS


class RollbackEventsField(serializers.ListField):
    child = serializers.ChoiceField(choices=ROLLBACK_EVENTS)

    def to_internal_value(self, data):
        return sorted(set(super().to_internal_value(data)))


class _Strict(serializers.Serializer):
    """Unknown keys are an error: a typo must not silently switch a safety net off."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {"non_field_errors": [f"unknown key(s): {', '.join(unknown)}"]}
                )
        return super().to_internal_value(data)


class HealthCheckSerializer(_Strict):
    url = serializers.URLField(max_length=500, required=True)
    expected_status = serializers.IntegerField(min_value=100, max_value=599, default=200)
    interval = serializers.FloatField(min_value=0.05, max_value=3600, default=2.0)
    threshold = serializers.IntegerField(min_value=1, max_value=100, default=2)
    # Longer than CodeDeploy's one-hour hook limit on purpose: a slow warm-up is not an error.
    timeout = serializers.FloatField(min_value=0.1, max_value=86400, default=60.0)
    bake_seconds = serializers.FloatField(min_value=0, max_value=86400, default=0.0)

    def to_internal_value(self, data):
        # The URL is a template ({name}, {hostname}, {tags[role]}); check it with sample values.
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            try:
                sample = healthcheck.url_for(data["url"], name="web-1", hostname="web-1.internal", tags={})
            except ValueError as exc:
                raise serializers.ValidationError({"url": [str(exc)]}) from None
            problem = healthcheck.template_problem(data["url"])
            if problem:
                raise serializers.ValidationError({"url": [problem]})
            data = {**data, "url": data["url"]}
            URLField = serializers.URLField(max_length=500)
            try:
                URLField.run_validation(sample)
            except serializers.ValidationError:
                raise serializers.ValidationError(
                    {"url": [f"{sample!r} (the URL filled in for a host named web-1) is not an http(s) URL"]}
                ) from None
            self.fields["url"] = serializers.CharField(max_length=500)
        return super().to_internal_value(data)


def _reachable_endpoint(url):
    """A custom AWS endpoint_url the outbound policy refuses is refused here too, with its reason."""
    if url:
        try:
            check_url(url)
        except OutboundRefused as exc:
            raise serializers.ValidationError(str(exc)) from None
        except Exception:  # noqa: S110 - unresolvable yet: the first use reports it
            pass
    return url


class AlarmConfigurationSerializer(_Strict):
    enabled = serializers.BooleanField(default=True)
    alarms = serializers.ListField(child=serializers.CharField(max_length=255), min_length=1, max_length=10)
    ignore_poll_alarm_failure = serializers.BooleanField(default=False)
    region = serializers.CharField(max_length=32, required=False, allow_blank=True)
    endpoint_url = serializers.URLField(required=False, allow_null=True, allow_blank=True)

    def validate_endpoint_url(self, url):
        return _reachable_endpoint(url)


class LoadBalancerSerializer(_Strict):
    router = serializers.ChoiceField(choices=["elbv2", "command"])
    target_groups = serializers.ListField(child=serializers.CharField(max_length=2048), required=False)
    command = serializers.CharField(max_length=64, required=False)
    region = serializers.CharField(max_length=32, required=False, allow_blank=True)
    endpoint_url = serializers.URLField(required=False, allow_null=True, allow_blank=True)
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True)
    drain_timeout = serializers.FloatField(min_value=0, max_value=86400, required=False)
    health_timeout = serializers.FloatField(min_value=0, max_value=86400, required=False)
    poll_interval = serializers.FloatField(min_value=0.05, max_value=300, required=False)
    timeout = serializers.FloatField(min_value=1, max_value=86400, required=False)

    def validate_endpoint_url(self, url):
        return _reachable_endpoint(url)

    def validate(self, attrs):
        if attrs["router"] == "elbv2" and not attrs.get("target_groups"):
            raise serializers.ValidationError(
                {"target_groups": ["the elbv2 router needs at least one target group ARN"]}
            )
        if attrs["router"] == "command":
            name = attrs.get("command", "")
            if not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise serializers.ValidationError(
                    {"command": ["name a command configured on the server (letters, digits, underscores)"]}
                )
            try:
                traffic.CommandRouter(name)
            except traffic.RouterError as exc:
                raise serializers.ValidationError({"command": [exc.message]}) from None
        return attrs


class _NullIsOff:
    """null switches the setting off: stored as {} (the column is NOT NULL), never as None."""

    def validate_empty_values(self, data):
        if data is None and self.allow_null:
            return True, {}
        return super().validate_empty_values(data)


@extend_schema_field(OpenApiTypes.OBJECT)
class BlueGreenSerializer(_NullIsOff, serializers.Field):
    def to_internal_value(self, data):
        if data in (None, {}):
            return {}
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be an object, or null to switch it off")
        problem = bluegreen_config.validate(data)
        if problem:
            raise serializers.ValidationError(problem)
        return data

    def to_representation(self, value):
        return value or None


class Shaped(_NullIsOff, serializers.Field):
    """A JSON setting validated by one of the serializers above; {} or null means "off"."""

    shape: type[serializers.Serializer]

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if data in (None, {}):
            return {}
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be an object, or null to switch it off")
        inner = self.shape(data=data)
        if not inner.is_valid():
            raise serializers.ValidationError(inner.errors)
        return dict(inner.validated_data)

    def to_representation(self, value):
        return value or None


@extend_schema_field(HealthCheckSerializer)
class HealthCheckField(Shaped):
    shape = HealthCheckSerializer


@extend_schema_field(AlarmConfigurationSerializer)
class AlarmConfigurationField(Shaped):
    shape = AlarmConfigurationSerializer


@extend_schema_field(LoadBalancerSerializer)
class LoadBalancerField(Shaped):
    shape = LoadBalancerSerializer
