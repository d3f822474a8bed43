"""The one place deployments/ reaches an outside system. integrations/ sits above deployments/, so the
rollout core never imports it: it names here what it needs (a point), with what happens when nothing
provides it, and integrations/ says which of its functions provides each point, as a dotted path,
from its AppConfig.ready(). A provider is imported on its first call (a lazy import, as Django does
for the dotted paths in settings), so importing any module of deployments/ never imports
integrations/, whatever is imported first, and a server without integrations/ still deploys.

To reach a new outside system from deployments/: add a function below that calls `_provider(name)`,
give it a default, and provide it from the integration's AppConfig.ready().
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db.models import BooleanField, Expression, Value
from django.utils.module_loading import import_string


class NotConfigured(Exception):
    """The project has no usable connection for what was asked (no AWS connection, or one whose
    credentials the operator does not allow); the message says what to set up."""


class RevisionUnavailable(Exception):
    """A revision the server could not get or cannot use; `code` is the deployment's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class RevisionRefused(Exception):
    """An outside revision (an S3 object, a GitHub commit) cannot be used; the message says why and what
    to do, and `field` names the input at fault ("repository", "commit") or is ""."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


# Point name -> what deployments/ asks of it. The defaults are what a server without integrations does.
POINTS: dict[str, str] = {
    "aws_for_project": "an AWS session for a project's connection: .client(service) gives a boto3 client",
    "revision_download": "where an agent downloads an outside revision: {'url': …}, or None",
    "fetch_revision": "the server's own fetch of a revision it must hold before hosts download it",
    "register_s3_revision": "a Revision for an S3 object, after checking it exists",
    "upload_s3_revision": "upload a checked bundle to S3 and return its Revision",
    "register_github_revision": "a Revision for a GitHub commit, after checking it exists",
    "issue_links": "the issues a deployment ships (tracker, key, title, status, url)",
    "has_issue_links": "an Exists() expression: does a deployment have issue links (no query of its own)",
    "commit_url": "the web page of a GitHub revision's commit, or ''",
    "revision_source_links": "for a project: a function revision -> (where it lives, its web page or '')",
}

_providers: dict[str, str] = {}
_resolved: dict[str, Callable[..., Any]] = {}
_lock = threading.Lock()


def provide(point: str, dotted_path: str) -> None:
    """Say which function provides `point` (called from an AppConfig.ready())."""
    if point not in POINTS:
        raise ValueError(
            f"deployments has no integration point {point!r}; known: {', '.join(sorted(POINTS))}"
        )
    with _lock:
        _providers[point] = dotted_path
        _resolved.pop(point, None)


def provided(point: str) -> bool:
    return point in _providers


def _provider(point: str) -> Callable[..., Any] | None:
    found = _resolved.get(point)
    if found is None and point in _providers:
        with _lock:
            found = _resolved[point] = import_string(_providers[point])
    return found


# --- the points --------------------------------------------------------------------------------


def aws_for_project(project, **kwargs: Any):
    """AWS for traffic, alarms and provisioning: `aws_for_project(project, region=…, endpoint_url=…,
    config=…).client("elbv2")`. Raises NotConfigured when the project may not use AWS."""
    provider = _provider("aws_for_project")
    if provider is None:
        raise NotConfigured("This server has no AWS integration installed.")
    return provider(project, **kwargs)


def revision_download(revision) -> dict | None:
    """Where an agent downloads `revision` from when the server does not serve it: {"url": …}. Called
    when a command is handed to an agent, so a presigned URL is always fresh and never stored."""
    provider = _provider("revision_download")
    return provider(revision) if provider is not None else None


def fetch_revision(revision) -> None:
    """Fetch into storage a revision the server must hold before hosts download it (a GitHub commit's
    archive). Slow: for workers only. Raises RevisionUnavailable."""
    provider = _provider("fetch_revision")
    if provider is None:
        raise RevisionUnavailable(
            "REVISION_MISSING", f"No integration on this server can fetch a {revision.source} revision."
        )
    provider(revision)


def register_s3_revision(application, uri: str, **kwargs: Any):
    return _required("register_s3_revision", "S3")(application, uri, **kwargs)


def upload_s3_revision(application, path: str, uri: str, **kwargs: Any):
    return _required("upload_s3_revision", "S3")(application, path, uri, **kwargs)


def register_github_revision(application, repository: str, commit: str, **kwargs: Any):
    return _required("register_github_revision", "GitHub")(application, repository, commit, **kwargs)


def issue_links(deployment_id: str) -> list[dict]:
    provider = _provider("issue_links")
    return provider(deployment_id) if provider is not None else []


def has_issue_links(deployment_ref: str = "pk") -> Expression:
    provider = _provider("has_issue_links")
    if provider is None:
        return Value(False, output_field=BooleanField())
    return provider(deployment_ref)


def commit_url(revision) -> str:
    provider = _provider("commit_url")
    return provider(revision) if provider is not None else ""


def revision_source_links(project) -> Callable[[Any], tuple[str, str]]:
    """A function revision -> (text, URL) for the revisions page: where each revision lives. Looks the
    project's connections up once, so a page of revisions costs no query per row."""
    provider = _provider("revision_source_links")
    if provider is None:
        return lambda revision: (str(revision.source), "")
    return provider(project)


def _required(point: str, system: str) -> Callable[..., Any]:
    provider = _provider(point)
    if provider is None:
        raise RevisionRefused(f"This server has no {system} integration installed.")
    return provider
