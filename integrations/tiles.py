"""Fills the dashboard's repository, build and issues tiles through dashboard.tiles.set_provider."""

from __future__ import annotations

import contextlib

from dashboard.tiles import NotConnected


def issues_tile(project) -> dict:
    """JIRA when connected (unless the project chose GitHub Issues), else GitHub Issues."""
    from .github import tiles as github_tiles
    from .jira import tiles as jira_tiles
    from .models import GitHubConnection, JiraConnection

    has_jira = JiraConnection.objects.filter(project=project).exists()
    has_github = GitHubConnection.objects.filter(project=project).exists()
    if has_jira and (project.issue_tracker != "github" or not has_github):
        return jira_tiles.issues_tile(project)
    if has_github:
        return github_tiles.issues_tile(project)
    raise NotConnected("No issue tracker is connected.")


def register() -> None:
    from dashboard import tiles

    from .github import tiles as github_tiles

    for key, provider in (
        ("repository", github_tiles.commits_tile),
        ("build", github_tiles.build_tile),
        ("issues", issues_tile),
    ):
        # KeyError: the dashboard dropped that tile; nothing to fill.
        with contextlib.suppress(KeyError):
            tiles.set_provider(key, provider)
