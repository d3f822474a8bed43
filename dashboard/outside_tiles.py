"""The dashboard's repository, build and issues tiles, filled from the project's GitHub and JIRA.

They call GitHub or JIRA while the page renders, with the short interactive timeout; any failure
(a 500, a timeout, a bad token) raises and dashboard.tiles shows the tile's error state. Results are
cached per project in Redis (FLEETDECK_TILE_CACHE_TTL, FLEETDECK_TILE_ERROR_TTL); a changed connection,
a push and a successful deployment of a GitHub commit drop them (`connect()`, run by DashboardConfig).
"""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from deployments.models import Deployment, DeploymentStatus, RevisionSource
from integrations.github.client import GitHubClient
from integrations.jira.client import JiraClient
from integrations.models import GitHubConnection, JiraConnection
from integrations.signals import outside_data_changed
from projects.models import Project

from . import tiles
from .tiles import NotConnected

BUILD_STATE_LABELS = {"success": "passing", "failure": "failing", "error": "error", "pending": "pending"}


# What each tile needs, said where it is not connected yet (the link goes to the Integrations page).
CONNECT_HINTS = {
    "repository": "Connect a GitHub repository.",
    "build": "Connect the GitHub repository: its commit statuses and check runs show here.",
    "issues": "Connect JIRA, or a GitHub repository for its GitHub Issues.",
}
BUILD_NOT_CONNECTED = (
    "Build status comes from the GitHub repository's commit statuses and check runs (GitHub Actions "
    "and any other CI that reports to GitHub). No GitHub repository is connected."
)


def _github(project, missing: str = "No GitHub repository is connected.") -> GitHubClient:
    connection = GitHubConnection.objects.filter(project=project).first()
    if connection is None:
        raise NotConnected(missing)
    return GitHubClient(connection, timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT)


def _first_line(message: str) -> str:
    return (message or "").strip().splitlines()[0][:120] if (message or "").strip() else "(no message)"


def commits_tile(project, branch: str | None = None) -> dict:
    """Recent commits of a branch (the default one unless the selector says otherwise)."""
    client = _github(project)
    branches = [b["name"] for b in client.branches()]
    branch = branch if branch in branches else client.connection.default_branch
    items = []
    for c in client.commits(branch, limit=10):
        commit = c.get("commit", {})
        author = (commit.get("author") or {}).get("name", "")
        date = (commit.get("author") or {}).get("date", "")[:10]
        items.append(
            {
                "title": _first_line(commit.get("message", "")),
                "url": c.get("html_url", ""),
                "meta": " · ".join(x for x in (c.get("sha", "")[:7], author, date) if x),
            }
        )
    return {"items": items, "branches": branches, "branch": branch, "repository": client.repo}


def _status_items(client: GitHubClient, ref: str, label: str) -> list[dict]:
    combined = client.combined_status(ref)
    state = combined.get("state", "pending")
    runs = client.check_runs(ref)
    failing = [
        r for r in runs if r.get("conclusion") in ("failure", "timed_out", "cancelled", "action_required")
    ]
    running = [r for r in runs if r.get("status") != "completed"]
    if failing:
        state = "failure"
    elif running and state == "success":
        state = "pending"
    items = [
        {
            "title": f"{label}: {BUILD_STATE_LABELS.get(state, state)}",
            "url": client.web_url(f"/commit/{ref}"),
            "meta": ref[:7] if len(ref) == 40 else ref,
        }
    ]
    for status in combined.get("statuses", []):
        items.append(
            {
                "title": f"{status.get('context')}: {status.get('state')}",
                "url": status.get("target_url") or "",
                "meta": "status",
            }
        )
    for run in runs:
        result = run.get("conclusion") or run.get("status", "")
        items.append(
            {"title": f"{run.get('name')}: {result}", "url": run.get("html_url") or "", "meta": "check run"}
        )
    return items


def build_tile(project) -> dict:
    """Combined status and check runs of the default branch's head, then of each group's deployed commit."""
    client = _github(project, BUILD_NOT_CONNECTED)
    head = client.branch(client.connection.default_branch).get("commit", {}).get("sha", "")
    items = _status_items(client, head, client.connection.default_branch)
    deployed = (
        Deployment.objects.filter(
            application__project=project,
            status=DeploymentStatus.SUCCEEDED,
            revision__source=RevisionSource.GITHUB,
        )
        .select_related("deployment_group", "revision")
        .order_by("deployment_group_id", "-created_at")
    )
    seen: dict[int, str] = {}
    for deployment in deployed[:50]:
        commit = (deployment.revision.location or {}).get("commit", "")
        if deployment.deployment_group_id in seen or not commit:
            continue
        seen[deployment.deployment_group_id] = commit
        if len(seen) > 3:
            break
        group = deployment.deployment_group.name
        items.extend(item for item in _status_items(client, commit, f"{group} (deployed)")[:1])
    return {"items": items, "state": items[0]["title"] if items else ""}


def github_issues_tile(project) -> dict:
    client = _github(project)
    items = [
        {
            "title": f"#{issue['number']} {issue.get('title', '')}",
            "url": issue.get("html_url", ""),
            "meta": ", ".join(label.get("name", "") for label in issue.get("labels", [])),
        }
        for issue in client.open_issues(limit=10)
    ]
    return {"items": items, "tracker": "github"}


def jira_issues_tile(project) -> dict:
    connection = JiraConnection.objects.filter(project=project).first()
    if connection is None:
        raise NotConnected("No JIRA server is connected.")
    client = JiraClient(connection, timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT)
    items = []
    for issue in client.search(connection.jql or "ORDER BY updated DESC", limit=10):
        fields = issue.get("fields", {})
        items.append(
            {
                "title": f"{issue['key']} {fields.get('summary', '')}",
                "url": client.browse_url(issue["key"]),
                "meta": (fields.get("status") or {}).get("name", ""),
            }
        )
    return {"items": items, "tracker": "jira"}


def issues_tile(project) -> dict:
    """JIRA when connected (unless the project chose GitHub Issues), else GitHub Issues."""
    has_jira = JiraConnection.objects.filter(project=project).exists()
    has_github = GitHubConnection.objects.filter(project=project).exists()
    if has_jira and (project.issue_tracker != "github" or not has_github):
        return jira_issues_tile(project)
    if has_github:
        return github_issues_tile(project)
    raise NotConnected("No issue tracker is connected.")


def invalidate_later(project_id: int) -> None:
    """Forget the project's cached tiles once the current transaction commits (now, outside one)."""
    transaction.on_commit(lambda: tiles.invalidate(project_id))


def _on_outside_data_changed(sender, project_id: int, **kwargs) -> None:
    invalidate_later(project_id)


def _on_connection_saved(sender, instance, **kwargs) -> None:
    """post_save/post_delete of a connection or of the project (its issue tracker choice)."""
    invalidate_later(getattr(instance, "project_id", None) or instance.pk)


def connect() -> None:
    """Fill the repository, build and issues tiles, and drop their cache when what they show changes."""
    for key, provider in (("repository", commits_tile), ("build", build_tile), ("issues", issues_tile)):
        # KeyError: the dashboard dropped that tile; nothing to fill.
        with contextlib.suppress(KeyError):
            # Cached per project: a dashboard view must not cost three calls to GitHub/JIRA.
            tiles.set_provider(
                key,
                provider,
                cache_ttl=lambda: settings.FLEETDECK_TILE_CACHE_TTL,
                error_ttl=lambda: settings.FLEETDECK_TILE_ERROR_TTL,
                connect_hint=CONNECT_HINTS[key],
            )
    outside_data_changed.connect(_on_outside_data_changed, dispatch_uid="dashboard.outside_tiles")
    for model in (GitHubConnection, JiraConnection, Project):
        for signal in (post_save, post_delete):
            signal.connect(
                _on_connection_saved, sender=model, dispatch_uid=f"dashboard.outside_tiles.{model.__name__}"
            )
