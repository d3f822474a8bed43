"""The one place Fleetdeck talks to GitHub: PyGithub's requester with a configurable base URL.

Calls return plain JSON dicts, so callers and the test fake share one vocabulary: GitHub's REST API.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import BinaryIO
from urllib.parse import quote

import requests
import urllib3
from django.conf import settings
from github import Auth, Github, GithubException

from core import outbound
from integrations.models import GitHubConnection

__all__ = ["ArchiveTooLarge", "DownloadError", "GitHubClient", "GithubException"]

# A commit's archive that takes longer than this to arrive is abandoned: a worker is not held for ever
# by a server that sends a byte a minute (each read has the integration timeout as well).
DOWNLOAD_DEADLINE = 1800.0
CHUNK = 1024 * 1024


class DownloadError(Exception):
    """GitHub did not hand over the archive; `status` is its HTTP status, 0 when it never answered."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.message, self.status = message, status


class ArchiveTooLarge(DownloadError):
    """The archive is larger than the limit: nothing of it is kept."""


# Every PyGithub Requester in the process (this client, branches.py's) connects through the policy.
outbound.bind_pygithub()


class GitHubClient:
    def __init__(self, connection: GitHubConnection, *, timeout: float | None = None):
        self.connection = connection
        self.base = connection.api_url.rstrip("/")
        self.repo = connection.repository
        self.timeout = timeout or settings.FLEETDECK_INTEGRATIONS_TIMEOUT
        auth = Auth.Token(connection.token) if connection.token else None
        self.github = Github(
            auth=auth,
            base_url=self.base,
            timeout=math.ceil(self.timeout),  # PyGithub wants whole seconds
            retry=None,
            per_page=30,
        )

    def _get(self, path: str, params: dict | None = None):
        _, data = self.github.requester.requestJsonAndCheck("GET", path, parameters=params)
        return data

    def _post(self, path: str, body: dict):
        _, data = self.github.requester.requestJsonAndCheck("POST", path, input=body)
        return data

    def _repo_path(self, suffix: str = "") -> str:
        return f"/repos/{self.repo}{suffix}"

    # --- reads ------------------------------------------------------------------------------

    def user(self) -> dict:
        return self._get("/user")

    def repository(self) -> dict:
        return self._get(self._repo_path())

    def branches(self) -> list[dict]:
        return self._get(self._repo_path("/branches"), {"per_page": 30})

    def branch(self, name: str) -> dict:
        return self._get(self._repo_path(f"/branches/{quote(name, safe='')}"))

    def commits(self, branch: str, limit: int = 10) -> list[dict]:
        return self._get(self._repo_path("/commits"), {"sha": branch, "per_page": limit})

    def commit(self, sha: str) -> dict:
        return self._get(self._repo_path(f"/commits/{quote(sha, safe='')}"))

    def compare(self, base: str, head: str) -> dict:
        return self._get(self._repo_path(f"/compare/{quote(base, safe='')}...{quote(head, safe='')}"))

    def combined_status(self, ref: str) -> dict:
        return self._get(self._repo_path(f"/commits/{quote(ref, safe='')}/status"))

    def check_runs(self, ref: str) -> list[dict]:
        data = self._get(self._repo_path(f"/commits/{quote(ref, safe='')}/check-runs"), {"per_page": 30})
        return data.get("check_runs", [])

    def open_issues(self, limit: int = 10) -> list[dict]:
        issues = self._get(self._repo_path("/issues"), {"state": "open", "per_page": limit})
        # The issues endpoint also lists pull requests.
        return [i for i in issues if "pull_request" not in i]

    def issue(self, number: int) -> dict:
        return self._get(self._repo_path(f"/issues/{number}"))

    # --- writes -----------------------------------------------------------------------------

    def create_deployment(self, ref: str, environment: str, description: str) -> dict:
        return self._post(
            self._repo_path("/deployments"),
            {
                "ref": ref,
                "environment": environment,
                "description": description[:140],
                "auto_merge": False,
                "required_contexts": [],
            },
        )

    def create_deployment_status(
        self, deployment_id: int, state: str, description: str, log_url: str = ""
    ) -> dict:
        body = {"state": state, "description": description[:140]}
        if log_url:
            body["log_url"] = log_url
        return self._post(self._repo_path(f"/deployments/{deployment_id}/statuses"), body)

    # --- the archive ------------------------------------------------------------------------

    def download_tarball(self, sha: str, out: BinaryIO, limit: int) -> tuple[int, str]:
        """Stream the commit's tarball into `out`; return its size and sha256.

        The one place the server downloads from GitHub with the project's token, under the outbound
        policy (every redirect hop is checked too). The token goes to the API host only: requests drops the Authorization
        header when GitHub redirects to another host (codeload.github.com). Bytes are read raw (no
        Content-Encoding decoding), so `limit` bounds what arrives and what is written alike.
        """
        headers = {
            "Accept": "application/vnd.github+json",
            "Accept-Encoding": "identity",
            "User-Agent": "fleetdeck",
        }
        if self.connection.token:
            headers["Authorization"] = f"token {self.connection.token}"
        started = time.monotonic()
        try:
            with (
                outbound.session(timeout=(self.timeout, self.timeout), redirects=True) as http,
                http.get(self.tarball_url(sha), headers=headers, stream=True) as response,
            ):
                if response.status_code != 200:
                    raise DownloadError(f"GitHub answered HTTP {response.status_code}", response.status_code)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise ArchiveTooLarge(
                        f"GitHub's archive is {declared} bytes, over the {limit}-byte limit"
                    )
                digest, size = hashlib.sha256(), 0
                for chunk in response.raw.stream(CHUNK, decode_content=False):
                    size += len(chunk)
                    if size > limit:
                        raise ArchiveTooLarge(f"GitHub's archive passed the {limit}-byte limit")
                    if time.monotonic() - started > DOWNLOAD_DEADLINE:
                        raise DownloadError(
                            f"GitHub's archive did not arrive within {DOWNLOAD_DEADLINE:.0f} s"
                        )
                    digest.update(chunk)
                    out.write(chunk)
        except outbound.OutboundRefused as exc:
            raise DownloadError(str(exc)) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            # Not OSError as a whole: a full disk while writing is ours, not GitHub's, and says so.
            raise DownloadError(
                f"GitHub cannot be reached or stopped sending ({type(exc).__name__})"
            ) from None
        return size, digest.hexdigest()

    # --- URLs -------------------------------------------------------------------------------

    def tarball_url(self, sha: str) -> str:
        return self.base + self._repo_path("/tarball/" + quote(sha, safe=""))

    def web_url(self, suffix: str = "") -> str:
        return web_url(self.base, self.repo, suffix)


def web_url(api_url: str, repository: str, suffix: str = "") -> str:
    """A repository's page on github.com (or the Enterprise host), for links."""
    base = api_url.rstrip("/")
    if base == "https://api.github.com":
        host = "https://github.com"
    elif base.endswith("/api/v3"):
        host = base[: -len("/api/v3")]
    else:
        host = base
    return f"{host}/{repository}{suffix}"
