from __future__ import annotations

from datetime import timedelta

from django import template

from deployments.durations import human

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A duration as every page writes it (`deployments.durations.human`); a dash when there is none."""
    return human(value, empty="—")


@register.filter
def tag_pairs(tags: dict | None) -> list[str]:
    return [f"{k}={v}" for k, v in sorted((tags or {}).items())]


@register.simple_tag
def deployment_href(project, deployment_id: str) -> str:
    return f"/p/{project.slug}/deployments/{deployment_id}/"
