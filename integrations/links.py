"""Finding issue references in what a deployment ships, and linking them to it.

Called from tasks only: it talks to GitHub and JIRA.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from deployments.models import Deployment, DeploymentStatus, RevisionSource

from .github.client import GitHubClient, GithubException
from .jira.client import JiraClient, JIRAError
from .models import DeploymentSync, GitHubConnection, IssueLink, JiraConnection, Tracker

log = logging.getLogger(__name__)

# "#123", "fixes #123", "(#123)"; not "owner/repo#123" or "abc#1".
ISSUE_REF = re.compile(r"(?<![\w/#])#(\d{1,7})\b")
# "ABC-123": a project key is an uppercase letter then 1-9 uppercase letters or digits.
JIRA_KEY = re.compile(r"(?<![A-Za-z0-9-])([A-Z][A-Z0-9]{1,9}-[1-9]\d{0,6})(?![A-Za-z0-9])")


def links_for(deployment_id: str) -> list[dict]:
    """Issues linked to a deployment: tracker, key, title, status, url. One query, no network."""
    return list(
        IssueLink.objects.filter(deployment_id=deployment_id)
        .order_by("tracker", "key")
        .values("tracker", "key", "title", "status", "url")
    )


def has_links(deployment_ref: str = "pk") -> Exists:
    """Exists() of issue links for annotating a Deployment queryset: no query of its own."""
    return Exists(IssueLink.objects.filter(deployment_id=OuterRef(deployment_ref)))


def references(texts: list[str]) -> tuple[list[int], list[str]]:
    numbers: dict[int, None] = {}
    keys: dict[str, None] = {}
    for text in texts:
        for match in ISSUE_REF.finditer(text or ""):
            numbers[int(match.group(1))] = None
        for match in JIRA_KEY.finditer(text or ""):
            keys[match.group(1)] = None
    return list(numbers), list(keys)


def branch_of(ref: str) -> str:
    return ref.removeprefix("refs/heads/")


def shipped_texts(deployment: Deployment, github: GitHubConnection | None) -> list[str]:
    """Commit messages between the group's previous successful GitHub revision and this one, and the branch."""
    revision = deployment.revision
    location = revision.location or {}
    texts = [revision.description]
    if revision.source != RevisionSource.GITHUB or not location.get("commit"):
        return texts
    texts.append(branch_of(location.get("ref", "")))
    if github is None:
        return texts
    client = GitHubClient(github)
    if location.get("repository"):
        client.repo = location["repository"]
    head = location["commit"]
    previous = (
        Deployment.objects.filter(
            deployment_group_id=deployment.deployment_group_id,
            status=DeploymentStatus.SUCCEEDED,
            created_at__lt=deployment.created_at,
            revision__source=RevisionSource.GITHUB,
        )
        .select_related("revision")
        .order_by("-created_at")
        .first()
    )
    base = None
    if previous is not None:
        prev = previous.revision.location or {}
        if prev.get("repository", client.repo) == client.repo and prev.get("commit") not in (None, "", head):
            base = prev["commit"]
    commits = client.compare(base, head).get("commits", []) if base else [client.commit(head)]
    texts.extend(c.get("commit", {}).get("message", "") for c in commits)
    return texts


def collect(deployment_id: str) -> int:
    """Link the deployment to the issues its commits mention; return how many links exist. Safe to rerun."""
    deployment = Deployment.objects.select_related("revision", "application").get(pk=deployment_id)
    project_id = deployment.application.project_id
    github = GitHubConnection.objects.filter(project_id=project_id).first()
    jira = JiraConnection.objects.filter(project_id=project_id).first()
    numbers, keys = references(shipped_texts(deployment, github))
    links = []
    if github is not None and numbers:
        client = GitHubClient(github)
        for number in numbers[:50]:
            try:
                issue = client.issue(number)
            except GithubException as exc:
                if exc.status == 404:
                    continue
                raise
            links.append(
                IssueLink(
                    deployment_id=deployment_id,
                    tracker=Tracker.GITHUB,
                    key=f"#{number}",
                    title=(issue.get("title") or "")[:500],
                    status=issue.get("state", ""),
                    url=issue.get("html_url", ""),
                )
            )
    if jira is not None and keys:
        jclient = JiraClient(jira)
        for key in keys[:50]:
            try:
                raw = jclient.issue(key)
            except JIRAError as exc:
                # Not an issue this JIRA knows ("UTF-8" looks like a key too).
                if exc.status_code in (400, 404):
                    continue
                raise
            fields = raw.get("fields", {})
            links.append(
                IssueLink(
                    deployment_id=deployment_id,
                    tracker=Tracker.JIRA,
                    key=raw.get("key", key),
                    title=(fields.get("summary") or "")[:500],
                    status=(fields.get("status") or {}).get("name", ""),
                    url=jclient.browse_url(raw.get("key", key)),
                )
            )
    with transaction.atomic():
        IssueLink.objects.bulk_create(links, ignore_conflicts=True)
        DeploymentSync.objects.update_or_create(
            deployment_id=deployment_id, defaults={"links_collected_at": timezone.now(), "links_error": ""}
        )
    return IssueLink.objects.filter(deployment_id=deployment_id).count()


def comment_on_success(deployment_id: str) -> int:
    """Comment on (and optionally transition) each linked JIRA issue once; return how many were done.

    Two runs may overlap (a redelivered task, a retry beside the first run): each issue is claimed
    with a conditional update of `notified_at` before JIRA is called, so only one run comments on it.
    When the comment fails the claim is given back and the next run comments; a run that dies between
    its claim and the comment loses that comment rather than ever posting it twice.
    """
    deployment = Deployment.objects.select_related("application", "deployment_group").get(pk=deployment_id)
    if deployment.status != DeploymentStatus.SUCCEEDED:
        return 0
    jira = JiraConnection.objects.filter(project_id=deployment.application.project_id).first()
    if jira is None or not (jira.comment_on_success or jira.transition_on_success):
        return 0
    client = JiraClient(jira)
    done = 0
    pending = IssueLink.objects.filter(
        deployment_id=deployment_id, tracker=Tracker.JIRA, notified_at__isnull=True
    ).values_list("pk", "key")
    for pk, key in pending:
        if not IssueLink.objects.filter(pk=pk, notified_at__isnull=True).update(notified_at=timezone.now()):
            continue  # another run has it
        try:
            if jira.comment_on_success:
                client.comment(key, success_comment(deployment))
        except Exception:
            IssueLink.objects.filter(pk=pk).update(notified_at=None)  # not commented: the next run does it
            raise
        # After the comment, a failed transition is not retried: a retry would comment again.
        if jira.transition_on_success and not client.transition(key, jira.transition_on_success):
            log.info("JIRA issue %s has no transition named %r", key, jira.transition_on_success)
        done += 1
    return done


def success_comment(deployment: Deployment) -> str:
    where = f"{deployment.application.name}/{deployment.deployment_group.name}"
    text = f"Deployed to {where} by Fleetdeck deployment {deployment.id}"
    commit = (deployment.revision.location or {}).get("commit")
    if commit:
        text += f" (commit {commit[:12]})"
    if settings.PUBLIC_URL and deployment.application.project_id:
        slug = deployment.application.project.slug
        text += f": {settings.PUBLIC_URL}/p/{slug}/deployments/{deployment.id}/"
    return text + "."
