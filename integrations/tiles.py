"""Fills the dashboard's repository, build and issues tiles through dashboard.tiles.set_provider."""

from __future__ import annotations

import contextlib

from django.conf import settings

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
            # Cached per project: a dashboard view must not cost three calls to GitHub/JIRA.
            # invalidate() below drops them when a connection changes, a push arrives or a deployment ends.
            tiles.set_provider(
                key,
                provider,
                cache_ttl=lambda: settings.FLEETDECK_TILE_CACHE_TTL,
                error_ttl=lambda: settings.FLEETDECK_TILE_ERROR_TTL,
            )


def invalidate(project_id: int) -> None:
    """Forget the project's cached tiles once the current transaction commits (now, outside one)."""
    from django.db import transaction

    from dashboard import tiles

    transaction.on_commit(lambda: tiles.invalidate(project_id))


def on_connection_saved(sender, instance, **kwargs) -> None:
    """post_save/post_delete of a connection or of the project (its issue tracker choice)."""
    invalidate(getattr(instance, "project_id", None) or instance.pk)
