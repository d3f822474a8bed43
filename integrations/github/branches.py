"""Commit a set of files to a new branch with the git data API (blobs, a tree, a commit, a ref).

The setup wizard uses it to put a template's starter bundle in the project's repository. The new
branch starts from the connection's default branch; nothing existing is ever overwritten: a branch
that already exists is an error, not a force-push.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from github import Auth, Github, GithubException, InputGitTreeElement
from github.Repository import Repository

from core.crypto import scrub
from integrations.models import GitHubConnection

from .client import GitHubClient

BRANCH_RE = r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*\.lock$)(?!.*/$)[A-Za-z0-9._/-]{1,200}$"


class BranchError(Exception):
    """The branch could not be created; the message says why and what to do."""


@dataclass
class Committed:
    branch: str
    sha: str
    files: int
    url: str


def write_interval() -> float:
    """Seconds between two writes. PyGithub waits 1 s by default (GitHub's advice for bulk writes);
    a starter bundle is a dozen writes a person waits for, so a shorter pause is enough."""
    return settings.FLEETDECK_GITHUB_WRITE_INTERVAL


def _repository(connection: GitHubConnection, timeout: float) -> Repository:
    github = Github(
        auth=Auth.Token(connection.token) if connection.token else None,
        base_url=connection.api_url.rstrip("/"),
        timeout=math.ceil(timeout),
        retry=None,
        # Lazy: no GET /repos/{repo} round trip before the first real call.
        lazy=True,
        seconds_between_requests=min(0.25, write_interval()),
        seconds_between_writes=write_interval(),
    )
    return github.get_repo(connection.repository)


def _explain(exc: GithubException, connection: GitHubConnection, step: str) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    detail = scrub(str(data.get("message") or exc), connection.token)
    repo = connection.repository
    if exc.status == 401:
        return f"GitHub refused the token ({detail}). An owner can set a new one under Integrations."
    if exc.status in (403, 404):
        return (
            f"The token cannot write to {repo} ({detail}) while {step}. It needs the repository's "
            '"Contents: write" permission (or the repo scope); an owner can change it under Integrations.'
        )
    return f"GitHub answered {exc.status} while {step}: {detail}"


def commit_files(
    connection: GitHubConnection,
    files: dict[str, bytes],
    *,
    branch: str,
    message: str,
    executable: frozenset[str] = frozenset(),
    timeout: float | None = None,
) -> Committed:
    """One commit holding `files` on top of the default branch, on the new branch `branch`."""
    if not re.match(BRANCH_RE, branch):
        raise BranchError(f"{branch!r} is not a usable branch name (letters, digits, ._/- only).")
    client = GitHubClient(connection, timeout=timeout)
    repo = _repository(connection, timeout or settings.FLEETDECK_INTEGRATIONS_TIMEOUT)
    step = f"checking whether {branch} exists"
    try:
        try:
            repo.get_branch(branch)
        except GithubException as exc:
            if exc.status != 404:
                raise
        else:
            raise BranchError(
                f"The branch {branch} already exists in {connection.repository}; "
                "pick another name, or delete that branch first."
            )
        step = f"reading the {connection.default_branch} branch"
        try:
            base_sha = repo.get_branch(connection.default_branch).commit.sha
        except GithubException as exc:
            if exc.status == 404:
                raise BranchError(
                    f"{connection.repository} has no {connection.default_branch} branch to start from; "
                    "push a first commit, or set the default branch under Integrations."
                ) from None
            raise
        base = repo.get_git_commit(base_sha)
        step = "uploading the files"
        elements = []
        for path, content in sorted(files.items()):
            blob = repo.create_git_blob(base64.b64encode(content).decode(), "base64")
            mode = "100755" if path in executable else "100644"
            elements.append(InputGitTreeElement(path, mode, "blob", sha=blob.sha))
        step = "writing the commit"
        tree = repo.create_git_tree(elements, base.tree)
        commit = repo.create_git_commit(message, tree, [base])
        step = f"creating the branch {branch}"
        repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
    except GithubException as exc:
        if exc.status == 422 and "already exists" in str(exc.data):
            raise BranchError(
                f"The branch {branch} already exists in {connection.repository}; pick another name."
            ) from None
        raise BranchError(_explain(exc, connection, step)) from None
    except OSError as exc:  # refused, timed out, DNS
        raise BranchError(f"GitHub could not be reached while {step}: {exc}") from None
    return Committed(
        branch=branch,
        sha=commit.sha,
        files=len(files),
        url=client.web_url(f"/tree/{quote(branch, safe='/')}"),
    )
