"""The one place Fleetdeck talks to JIRA: the `jira` library, for Cloud (email + API token) and
Server / Data Center (personal access token).

Server info is never fetched on construction (one round trip fewer, and no surprise network call
from a constructor); Cloud is told it is Cloud so searches use the current `search/jql` endpoint.
"""

from __future__ import annotations

from django.conf import settings
from jira import JIRA, JIRAError

from core import outbound
from integrations.models import JiraAuth, JiraConnection

__all__ = ["JIRAError", "JiraClient"]


class JiraClient:
    def __init__(self, connection: JiraConnection, *, timeout: float | None = None):
        self.connection = connection
        self.server = connection.server_url.rstrip("/")
        kwargs = {
            "server": self.server,
            "get_server_info": False,
            "max_retries": 0,
            "timeout": timeout or settings.FLEETDECK_INTEGRATIONS_TIMEOUT,
            "options": {"rest_api_version": "2"},
        }
        if connection.auth == JiraAuth.CLOUD:
            kwargs["basic_auth"] = (connection.email, connection.token)
        else:
            kwargs["token_auth"] = connection.token
        self.jira = JIRA(**kwargs)
        # Every request (and every redirect hop) connects through the outbound policy.
        outbound.mount(self.jira._session)
        if connection.auth == JiraAuth.CLOUD:
            self.jira.deploymentType = "Cloud"

    def myself(self) -> dict:
        return self.jira.myself()

    def search(self, jql: str, limit: int = 10) -> list[dict]:
        data = self.jira.search_issues(
            jql, maxResults=limit, fields=["summary", "status"], json_result=True, validate_query=True
        )
        return data.get("issues", [])

    def issue(self, key: str) -> dict:
        return self.jira.issue(key, fields="summary,status").raw

    def comment(self, key: str, body: str) -> None:
        self.jira.add_comment(key, body)

    def transition(self, key: str, name: str) -> bool:
        """Move the issue through the transition called `name` (case-insensitive); False if it has none."""
        for transition in self.jira.transitions(key):
            if transition["name"].lower() == name.lower() or transition["to"]["name"].lower() == name.lower():
                self.jira.transition_issue(key, transition["id"])
                return True
        return False

    def browse_url(self, key: str) -> str:
        return f"{self.server}/browse/{key}"
