"""The server's fetch of a GitHub commit's archive, with the project's token, into the revision's storage.

Hosts then download it from the server with their own credential: the token never leaves the server.
Called by a worker (`deployments.rollout.fetching`), never in a web request.
"""

from __future__ import annotations

import os
import tempfile

from django.conf import settings
from rest_framework.exceptions import ValidationError

from deployments.api.bundles import store_fetched
from deployments.integration_points import RevisionUnavailable
from deployments.models import ErrorCode
from integrations.models import GitHubConnection

from .client import ArchiveTooLarge, DownloadError, GitHubClient


def fetch_archive(revision) -> None:
    """Download the commit's tarball (streamed, bounded by FLEETDECK_MAX_BUNDLE_SIZE), check it as an
    upload is checked and store it as the revision's bundle. Raises RevisionUnavailable."""
    location = revision.location or {}
    commit = str(location.get("commit") or "")
    connection = GitHubConnection.objects.filter(project__applications=revision.application_id).first()
    if connection is None:
        raise RevisionUnavailable(
            ErrorCode.REVISION_MISSING,
            f"{revision.display_name} is a GitHub commit, but the project has no GitHub connection now. "
            "An owner can add one under Integrations; then deploy again.",
        )
    repository = str(location.get("repository") or connection.repository)
    if repository.lower() != connection.repository.lower():
        raise RevisionUnavailable(
            ErrorCode.REVISION_MISSING,
            f"{revision.display_name} is a commit of {repository}, but the project is now connected to "
            f"{connection.repository}. Register the commit from the connected repository and deploy that.",
        )
    limit = settings.MAX_BUNDLE_SIZE
    fd, path = tempfile.mkstemp(prefix="fleetdeck-github-", suffix=".tgz")
    try:
        with os.fdopen(fd, "wb") as out:
            size, sha256 = GitHubClient(connection).download_tarball(commit, out, limit)
        store_fetched(revision, path, size=size, sha256=sha256)
    except ArchiveTooLarge:
        raise RevisionUnavailable(
            ErrorCode.INVALID_REVISION,
            f"GitHub's archive of {repository}@{commit[:12]} is larger than this server's limit of {limit} "
            "bytes (FLEETDECK_MAX_BUNDLE_SIZE); nothing of it was kept. Make the repository's bundle "
            "smaller, or ask the operator to raise the limit.",
        ) from None
    except DownloadError as exc:
        hint = {
            401: "GitHub refused the connection's token: an owner can replace it under Integrations.",
            403: "GitHub refused the connection's token: an owner can replace it under Integrations.",
            404: "The commit is gone, or the token cannot read the repository.",
        }.get(exc.status, "Deploy again once GitHub answers.")
        raise RevisionUnavailable(
            ErrorCode.REVISION_MISSING,
            f"The server could not fetch {repository}@{commit[:12]} from GitHub: {exc.message}. {hint}",
        ) from None
    except ValidationError as exc:
        problems = "; ".join(str(m) for messages in exc.detail.values() for m in messages)
        raise RevisionUnavailable(
            ErrorCode.INVALID_REVISION,
            f"GitHub's archive of {repository}@{commit[:12]} is not a usable bundle: {problems}",
        ) from None
    finally:
        os.unlink(path)
