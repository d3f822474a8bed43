""" "Test connection": each check runs with the short interactive timeout and reports on its own.

Messages are scrubbed of the connection's secrets before anyone sees them, and carry a status and a
short reason, never what the remote server answered (core.outbound.describe_error).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from core.crypto import scrub
from core.outbound import describe_error

from .github.client import GitHubClient
from .jira.client import JiraClient


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _run(results: list[Check], name: str, fn, secrets: tuple[str, ...]) -> object | None:
    try:
        value, detail = fn()
    except Exception as exc:
        # The status and a short reason only: a remote body can be any internal page's content.
        results.append(Check(name, False, scrub(describe_error(exc)[:500], *secrets)))
        return None
    results.append(Check(name, True, scrub(detail, *secrets)))
    return value


def github(connection) -> list[Check]:
    client = GitHubClient(connection, timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT)
    secrets = (connection.token, connection.webhook_secret)
    results: list[Check] = []
    if connection.token:
        _run(results, "Token", lambda: (1, f"Authenticated as {client.user().get('login', '?')}."), secrets)
    else:
        results.append(Check("Token", False, "No token is set: only public repositories can be read."))
    repo = _run(
        results,
        "Repository",
        lambda: (
            r := client.repository(),
            f"{r.get('full_name')} is readable ({'private' if r.get('private') else 'public'}).",
        ),
        secrets,
    )
    if repo is not None:
        branch = connection.default_branch
        _run(results, "Default branch", lambda: (client.branch(branch), f"{branch} exists."), secrets)
        perms = repo.get("permissions") or {}
        if perms and not perms.get("push"):
            results.append(
                Check(
                    "Deployments API",
                    False,
                    "The token cannot write to the repository, so GitHub deployments cannot be created.",
                )
            )
    return results


def jira(connection) -> list[Check]:
    client = JiraClient(connection, timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT)
    secrets = (connection.token,)
    results: list[Check] = []
    _run(results, "Credentials", lambda: (1, f"Authenticated as {_jira_name(client.myself())}."), secrets)
    _run(
        results,
        "JQL",
        lambda: (
            r := client.search(connection.jql or "ORDER BY updated DESC", limit=1),
            f"The query runs ({len(r)} issue shown).",
        ),
        secrets,
    )
    return results


def _jira_name(me: dict) -> str:
    return me.get("displayName") or me.get("emailAddress") or me.get("name") or "?"


def aws(connection) -> list[Check]:
    from .aws.client import for_project

    secrets = (connection.secret_access_key,)
    results: list[Check] = []
    client = _run(
        results,
        "Credentials",
        lambda: (
            c := for_project(
                connection.project_id, timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT
            ),
            f"Account {c.caller_identity().get('Account')}.",
        ),
        secrets,
    )
    if client is None:
        return results
    _run(
        results,
        "S3",
        lambda: (b := client.client("s3").list_buckets(), f"{len(b.get('Buckets', []))} buckets visible."),
        secrets,
    )
    _run(
        results,
        "EC2",
        lambda: (
            r := client.client("ec2").describe_instances(MaxResults=5),
            f"{len(r.get('Reservations', []))} reservations visible.",
        ),
        secrets,
    )
    _run(
        results,
        "Auto Scaling",
        lambda: (
            r := client.client("autoscaling").describe_auto_scaling_groups(MaxRecords=5),
            f"{len(r.get('AutoScalingGroups', []))} groups visible.",
        ),
        secrets,
    )
    return results


RUNNERS = {"github": github, "jira": jira, "aws": aws}
