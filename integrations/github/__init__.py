"""GitHub: repository tiles, commit revisions, the push webhook, issue links and the Deployments API."""

from __future__ import annotations


def revision_fetch(revision) -> dict | None:
    """Where the agent downloads a GitHub revision: the commit's tarball URL and the project's token.

    None when the revision is not from GitHub or its project has no GitHub connection. No network.
    """
    from deployments.models import RevisionSource
    from integrations.models import GitHubConnection

    if revision.source != RevisionSource.GITHUB:
        return None
    location = revision.location or {}
    connection = GitHubConnection.objects.filter(project__applications=revision.application_id).first()
    if connection is None or not location.get("commit"):
        return None
    from .client import GitHubClient

    client = GitHubClient(connection)
    if location.get("repository"):
        client.repo = location["repository"]
    fetch = {"url": client.tarball_url(location["commit"])}
    if connection.token:
        fetch["token"] = connection.token
    return fetch


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
