"""GitHub: repository tiles, commit revisions, the push webhook, issue links and the Deployments API."""

from __future__ import annotations


def commit_url(revision) -> str:
    """The commit's page on GitHub for a GitHub revision, for the deployment page; "" otherwise. No network."""
    from deployments.models import RevisionSource
    from integrations.models import GitHubConnection

    location = revision.location or {}
    if revision.source != RevisionSource.GITHUB or not location.get("commit"):
        return ""
    connection = GitHubConnection.objects.filter(project__applications=revision.application_id).first()
    api_url = connection.api_url if connection else "https://api.github.com"
    repository = location.get("repository") or (connection.repository if connection else "")
    if not repository:
        return ""
    from .client import web_url

    return web_url(api_url, repository, f"/commit/{location['commit']}")
