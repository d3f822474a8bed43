"""Dashboard tile providers backed by GitHub: ``provider(project, **params) -> dict``.

They call GitHub while the page renders, with the short interactive timeout; any failure
(500, timeout, bad token) raises and dashboard.tiles shows the tile's error state.
"""

from __future__ import annotations

from django.conf import settings

from dashboard.tiles import NotConnected
from integrations.models import GitHubConnection

from .client import GitHubClient

BUILD_STATE_LABELS = {"success": "passing", "failure": "failing", "error": "error", "pending": "pending"}


def _client(project) -> GitHubClient:
    connection = GitHubConnection.objects.filter(project=project).first()
    if connection is None:
        raise NotConnected("No GitHub repository is connected.")
    return GitHubClient(connection, timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT)


def _first_line(message: str) -> str:
    return (message or "").strip().splitlines()[0][:120] if (message or "").strip() else "(no message)"


def commits_tile(project, branch: str | None = None) -> dict:
    """Recent commits of a branch (the default one unless the selector says otherwise)."""
    client = _client(project)
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
    from deployments.models import Deployment, DeploymentStatus, RevisionSource

    client = _client(project)
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


def issues_tile(project) -> dict:
    client = _client(project)
    items = [
        {
            "title": f"#{issue['number']} {issue.get('title', '')}",
            "url": issue.get("html_url", ""),
            "meta": ", ".join(label.get("name", "") for label in issue.get("labels", [])),
        }
        for issue in client.open_issues(limit=10)
    ]
    return {"items": items, "tracker": "github"}
