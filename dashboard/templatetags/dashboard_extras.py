from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A compact duration: 45s, 3m 05s, 2h 10m."""
    if value is None:
        return "—"
    seconds = max(int(value.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


@register.filter
def tag_pairs(tags: dict | None) -> list[str]:
    return [f"{k}={v}" for k, v in sorted((tags or {}).items())]


@register.simple_tag
def deployment_href(project, deployment_id: str) -> str:
    return f"/p/{project.slug}/deployments/{deployment_id}/"
