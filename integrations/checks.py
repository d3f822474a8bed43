""" "Test connection": each check runs with the short interactive timeout and reports on its own.

A failed check says what to fix (check_errors.explain), never the raw exception or what the remote
server answered; every message is scrubbed of the connection's secrets before anyone sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from core.crypto import scrub

from . import check_errors
from .github.client import GitHubClient
from .jira.client import JiraClient


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _run(results: list[Check], name: str, fn, secrets: tuple[str, ...], explain) -> object | None:
    """`explain(exc, name)`: what to fix when this check fails (check_errors)."""
    try:
        value, detail = fn()
    except Exception as exc:
        detail = explain(exc, name)
        results.append(Check(name, False, scrub(detail, *secrets)))
        return None
    results.append(Check(name, True, scrub(detail, *secrets)))
    return value


def github(connection) -> list[Check]:
    timeout = settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT
    client = GitHubClient(connection, timeout=timeout)
    secrets = (connection.token, connection.webhook_secret)
    results: list[Check] = []

    def target(exc, name):
        return check_errors.explain(exc, check_errors.github_target(connection, name, timeout))

    if connection.token:
        _run(
            results,
            "Token",
            lambda: (1, f"Authenticated as {client.user().get('login', '?')}."),
            secrets,
            target,
        )
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
        target,
    )
    if repo is not None:
        branch = connection.default_branch
        _run(results, "Default branch", lambda: (client.branch(branch), f"{branch} exists."), secrets, target)
        perms = repo.get("permissions") or {}
        if perms and not perms.get("push"):
            results.append(
                Check(
                    "Deployments API",
                    False,
                    "The token cannot write to the repository, so GitHub deployments cannot be created: "
                    "give it the Deployments write permission, or untick the mirror option.",
                )
            )
    return results


def jira(connection) -> list[Check]:
    timeout = settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT
    client = JiraClient(connection, timeout=timeout)
    secrets = (connection.token,)
    results: list[Check] = []

    def target(exc, name):
        return check_errors.explain(exc, check_errors.jira_target(connection, name, timeout))

    _run(
        results,
        "Credentials",
        lambda: (1, f"Authenticated as {_jira_name(client.myself())}."),
        secrets,
        target,
    )
    _run(
        results,
        "JQL",
        lambda: (
            r := client.search(connection.jql or "ORDER BY updated DESC", limit=1),
            f"The query runs ({len(r)} issue shown).",
        ),
        secrets,
        target,
    )
    return results


def _jira_name(me: dict) -> str:
    return me.get("displayName") or me.get("emailAddress") or me.get("name") or "?"


def aws(connection) -> list[Check]:
    from .aws.client import for_project

    timeout = settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT
    secrets = (connection.secret_access_key,)
    results: list[Check] = []

    def target(exc, name):
        return check_errors.aws_explain(exc, name, connection.endpoint_url, timeout)

    client = _run(
        results,
        "Credentials",
        lambda: (
            c := for_project(connection.project_id, timeout=timeout),
            f"Account {c.caller_identity().get('Account')}.",
        ),
        secrets,
        target,
    )
    if client is None:
        return results
    for name, call in (
        (
            "S3",
            lambda: (
                b := client.client("s3").list_buckets(),
                f"{len(b.get('Buckets', []))} buckets visible.",
            ),
        ),
        (
            "EC2",
            lambda: (
                r := client.client("ec2").describe_instances(MaxResults=5),
                f"{len(r.get('Reservations', []))} reservations visible.",
            ),
        ),
        (
            "Auto Scaling",
            lambda: (
                r := client.client("autoscaling").describe_auto_scaling_groups(MaxRecords=5),
                f"{len(r.get('AutoScalingGroups', []))} groups visible.",
            ),
        ),
    ):
        _run(results, name, call, secrets, target)
    return results


RUNNERS = {"github": github, "jira": jira, "aws": aws}
