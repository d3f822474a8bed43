"""Fleetdeck's links to outside systems. Public functions other apps may call:

* ``links_for(deployment_id)``: issues a deployment ships, for the deployment page, and
  ``has_links()``: an annotation saying whether there are any, so pages skip that query when not;
* ``integrations.github.revision_fetch(revision)`` / ``integrations.aws.revision_fetch(revision)``:
  where an agent downloads a GitHub or S3 revision from;
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
    """Where an agent downloads a GitHub or S3 revision: {"url": ..., "token"?: ...}; None for uploads.

    Call it when a command is handed to an agent (poll time), not when it is created, so the
    token is never stored in HostCommand.payload and the presigned URL is always fresh.
    """
    from .aws import revision_fetch as s3_fetch
    from .github import revision_fetch as github_fetch

    return github_fetch(revision) or s3_fetch(revision)
