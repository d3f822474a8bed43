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


# Which tab of the project navigation a page belongs to, by the name of its URL.
SECTIONS = {
    "project": "overview",
    "deployment_list": "deployments",
    "deployment_detail": "deployments",
    "deployment_create": "deployments",
    "deployment_redeploy": "deployments",
    "revision_list": "revisions",
    "revision_upload": "revisions",
    "revision_register": "revisions",
    "project_team": "team",
    "project_members": "team",
    "project_settings": "settings",
    "project_delete": "settings",
}
SECTION_PREFIXES = (("group", "groups"), ("application", "groups"), ("config", "groups"), ("fleet", "fleet"))


@register.simple_tag(takes_context=True)
def project_section(context) -> str:
    """The project tab the current page sits under ("" when none), so the one navigation marks it
    on every project page without each view saying so."""
    match = getattr(context.get("request"), "resolver_match", None)
    if match is None:
        return ""
    if match.namespace == "integrations":
        return "integrations"
    name = match.url_name or ""
    if name in SECTIONS:
        return SECTIONS[name]
    return next((section for prefix, section in SECTION_PREFIXES if name.startswith(prefix)), "")
