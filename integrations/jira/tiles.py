"""The issues tile backed by a JIRA JQL query (see integrations.tiles for how it is chosen)."""

from __future__ import annotations

from django.conf import settings

from dashboard.tiles import NotConnected
from integrations.models import JiraConnection

from .client import JiraClient


def issues_tile(project) -> dict:
    connection = JiraConnection.objects.filter(project=project).first()
    if connection is None:
        raise NotConnected("No JIRA server is connected.")
    client = JiraClient(connection, timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT)
    items = []
    for issue in client.search(connection.jql or "ORDER BY updated DESC", limit=10):
        fields = issue.get("fields", {})
        items.append(
            {
                "title": f"{issue['key']} {fields.get('summary', '')}",
                "url": client.browse_url(issue["key"]),
                "meta": (fields.get("status") or {}).get("name", ""),
            }
        )
    return {"items": items, "tracker": "jira"}
