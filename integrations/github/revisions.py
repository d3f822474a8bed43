"""Register a GitHub commit as a revision (`create-deployment --github-location` in CodeDeploy terms).

The commit is resolved through the project's GitHub connection before anything is stored, so a typo
in the sha or the repository is a clear error now rather than a failed download on every host later.
"""

from __future__ import annotations

import re

from django.conf import settings

from deployments.integration_points import RevisionRefused
from deployments.models import BundleType, Revision, RevisionSource
from integrations.models import GitHubConnection

from .client import GitHubClient, GithubException

COMMIT_RE = re.compile(r"^[0-9a-fA-F]{7,40}$")


class GitHubRevisionError(RevisionRefused):
    """The commit cannot be used as a revision; the message says why and what to do.

    `field` is "repository" or "commit" when one of them is the problem, "" otherwise.
    """


def register_github_revision(application, repository: str, commit: str, *, description: str = "", user=None):
    """Create a GitHub Revision for `commit` of the project's connected repository.

    `repository` may be "" (the connected one); any other repository is refused, because the server
    fetches the archive with the connection's token (when a deployment first needs it; hosts then
    download it from the server). An explicit user action: one synchronous call to GitHub with the
    interactive timeout, outside any transaction.
    """
    connection = GitHubConnection.objects.filter(project=application.project_id).first()
    if connection is None:
        raise GitHubRevisionError(
            "This project has no GitHub connection. An owner can add one under Integrations."
        )
    repository = (repository or connection.repository).strip()
    if repository.lower() != connection.repository.lower():
        raise GitHubRevisionError(
            f"{repository} is not this project's connected repository ({connection.repository}); "
            f"push the commit there, or have an owner change the connection under Integrations.",
            "repository",
        )
    commit = commit.strip()
    if not COMMIT_RE.match(commit):
        raise GitHubRevisionError(
            f"{commit!r} is not a commit sha: give the 7 to 40 hex digits of the commit id.", "commit"
        )
    client = GitHubClient(connection, timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT)
    try:
        found = client.commit(commit)
    except GithubException as exc:
        if exc.status in (404, 422):
            raise GitHubRevisionError(
                f"{connection.repository} has no commit {commit}; push it first or check the sha.", "commit"
            ) from None
        if exc.status in (401, 403):
            raise GitHubRevisionError(
                f"GitHub refused the connection's token for {connection.repository} (HTTP {exc.status}); "
                "an owner can replace it under Integrations."
            ) from None
        raise GitHubRevisionError(
            f"GitHub answered HTTP {exc.status} for commit {commit}; try again."
        ) from None
    except OSError as exc:
        raise GitHubRevisionError(f"GitHub cannot be reached ({exc}); try again.") from None
    sha = str(found.get("sha") or commit).lower()
    message = ((found.get("commit") or {}).get("message") or "").strip()
    description = description or (message.splitlines()[0] if message else "")
    return Revision.objects.create(
        application=application,
        source=RevisionSource.GITHUB,
        bundle_type=BundleType.TGZ,  # GitHub serves a commit as a tarball
        location={"repository": connection.repository, "commit": sha},
        description=description[:500],
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )
