from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from deployments import planner
from projects.access import refusal
from projects.models import Membership

_FILTER_SCHEMA = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "value": {"type": "string"},
        "type": {"type": "string", "enum": list(planner.TAG_FILTER_TYPES)},
    },
}

MAX_TAGS = 50


def validate_tags(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise serializers.ValidationError(
            'Tags must be an object of string keys and values, e.g. {"role": "web"}.'
        )
    if len(value) > MAX_TAGS:
        raise serializers.ValidationError(f"At most {MAX_TAGS} tags are allowed.")
    for key, tag_value in value.items():
        if not isinstance(key, str) or not key or len(key) > 128:
            raise serializers.ValidationError(f"Tag key {key!r} must be a string of 1-128 characters.")
        if not isinstance(tag_value, str) or len(tag_value) > 256:
            raise serializers.ValidationError(
                f"Tag {key!r} must have a string value of at most 256 characters."
            )
    return value


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class TagsField(serializers.JSONField):
    def to_internal_value(self, data):
        return validate_tags(super().to_internal_value(data))


def _normalise_filters(filters: object, where: str) -> list[dict]:
    if not isinstance(filters, list):
        raise serializers.ValidationError(f"{where} must be a list of {{key, value, type}} filters.")
    out = []
    for index, tag_filter in enumerate(filters):
        problem = planner.validate_tag_filter(tag_filter)
        if problem:
            raise serializers.ValidationError(f"{where} filter {index}: {problem}.")
        kind = tag_filter.get("type", planner.KEY_AND_VALUE)
        out.append({"key": tag_filter.get("key") or "", "value": tag_filter.get("value") or "", "type": kind})
    return out


@extend_schema_field({"type": "array", "items": _FILTER_SCHEMA})
class TagFiltersField(serializers.JSONField):
    """A flat list of filters, ORed."""

    def to_internal_value(self, data):
        return _normalise_filters(super().to_internal_value(data), "tag_filters")


@extend_schema_field({"type": "array", "items": {"type": "array", "items": _FILTER_SCHEMA}, "maxItems": 3})
class TagSetField(serializers.JSONField):
    """Up to three lists of filters: OR within a list, AND across lists."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, list) or any(not isinstance(group, list) for group in data):
            raise serializers.ValidationError(
                "tag_set must be a list of lists of {key, value, type} filters."
            )
        if len(data) > planner.MAX_TAG_SET_GROUPS:
            raise serializers.ValidationError(
                f"A tag set has at most {planner.MAX_TAG_SET_GROUPS} groups; got {len(data)}."
            )
        out = []
        for number, group in enumerate(data):
            if not group:
                raise serializers.ValidationError(f"tag_set group {number} is empty.")
            out.append(_normalise_filters(group, f"tag_set group {number}"))
        return out


def username(user) -> str | None:
    return user.get_username() if user is not None else None


@extend_schema_field(serializers.CharField(help_text="The project's slug."))
class ProjectField(serializers.Field):
    """A project slug in, the slug out. Only projects where the requester holds `role` are accepted.

    Unknown projects and projects the requester is not on get the same answer, so nothing leaks; a
    member without the role gets a 403 that names it.
    """

    def __init__(self, *, role: str, **kwargs):
        self.role = role
        super().__init__(**kwargs)

    def to_representation(self, value) -> str | None:
        return value.slug if value is not None else None

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data:
            raise serializers.ValidationError("Give the project's slug.")
        request = self.context.get("request")
        user = getattr(request, "user", None)
        membership = (
            Membership.objects.filter(project__slug=data, user=user).select_related("project").first()
            if user is not None and user.is_authenticated
            else None
        )
        if membership is None:
            raise serializers.ValidationError(f"No project {data!r} that you are a member of.")
        if not membership.allows(self.role):
            # A member without the role: a 403, as everywhere else (outsiders get the 400 above,
            # which says no more than an unknown slug does).
            raise PermissionDenied(refusal(membership, self.role))
        return membership.project
