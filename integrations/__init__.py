"""Fleetdeck's links to outside systems. Public functions other apps may call:

* ``links_for(deployment_id)``: issues a deployment ships, for the deployment page, and
  ``has_links()``: an annotation saying whether there are any, so pages skip that query when not;
* ``revision_fetch(revision)``: the presigned URL an agent downloads an S3 revision from;
* ``fetch_revision(revision)``: the server's own fetch of a revision it must hold before hosts may
  download it (a GitHub commit's archive, fetched with the project's token, which hosts never see);
* ``integrations.aws.missing_agents(group)``: EC2 instances of a group with no agent.
"""

from __future__ import annotations


def links_for(deployment_id: str) -> list[dict]:
    """Issues linked to a deployment: tracker, key, title, status, url. One query, no network."""
    from .models import IssueLink

    return list(
        IssueLink.objects.filter(deployment_id=deployment_id)
        .order_by("tracker", "key")
        .values("tracker", "key", "title", "status", "url")
    )


def has_links(deployment_ref: str = "pk"):
    """Exists() of issue links for annotating a Deployment queryset: no query of its own."""
    from django.db.models import Exists, OuterRef

    from .models import IssueLink

    return Exists(IssueLink.objects.filter(deployment_id=OuterRef(deployment_ref)))


def revision_fetch(revision) -> dict | None:
    """Where an agent downloads an S3 revision: {"url": a presigned URL}; None for any other revision
    (uploads and GitHub archives are served by this server, with the agent's own credential).

    Call it when a command is handed to an agent (poll time), not when it is created, so the
    presigned URL is always fresh and never stored.
    """
    from .aws import revision_fetch as s3_fetch

    return s3_fetch(revision)


def fetch_revision(revision) -> None:
    """Fetch the archive of a revision the server must hold before hosts download it (a GitHub commit)
    into its storage. Slow (a download): for workers only. Raises deployments.fetching.RevisionUnavailable."""
    from .github.archive import fetch_archive

    fetch_archive(revision)
