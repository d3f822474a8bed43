"""Where a revision lives on the web, for the deployment and revisions pages. No network: only the
project's connections are read (a GitHub Enterprise address, an S3-compatible endpoint)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

from deployments.models import Revision, RevisionSource

from .github.client import web_url
from .models import AwsConnection, GitHubConnection

PUBLIC_GITHUB_API = "https://api.github.com"


def commit_url(revision: Revision) -> str:
    """The commit's page on GitHub for a GitHub revision; "" otherwise."""
    location = revision.location or {}
    if revision.source != RevisionSource.GITHUB or not location.get("commit"):
        return ""
    connection = GitHubConnection.objects.filter(project__applications=revision.application_id).first()
    api_url = connection.api_url if connection else PUBLIC_GITHUB_API
    repository = location.get("repository") or (connection.repository if connection else "")
    if not repository:
        return ""
    return web_url(api_url, repository, f"/commit/{location['commit']}")


def source_links(project) -> Callable[[Revision], tuple[str, str]]:
    """For one page of a project's revisions: a function revision -> (where it lives, its web page or
    ""). The connections are read once here, so the rows cost no query each."""
    github = GitHubConnection.objects.filter(project=project).only("api_url").first()
    aws = AwsConnection.objects.filter(project=project).only("endpoint_url").first()

    def link(revision: Revision) -> tuple[str, str]:
        location = revision.location or {}
        if revision.source == RevisionSource.S3:
            bucket, key = location.get("bucket", ""), location.get("key", "")
            text = f"s3://{bucket}/{key}"
            if aws is not None and aws.endpoint_url:
                return text, ""  # an S3-compatible store: no console to link to
            return text, f"https://s3.console.aws.amazon.com/s3/object/{quote(bucket)}?" + urlencode(
                {"prefix": key}
            )
        if revision.source == RevisionSource.GITHUB:
            repository, commit = location.get("repository", ""), location.get("commit", "")
            api_url = github.api_url if github is not None else PUBLIC_GITHUB_API
            url = web_url(api_url, repository, f"/commit/{commit}") if repository and commit else ""
            return f"{repository}@{commit[:12]}", url
        return "Stored on the server", ""

    return link
