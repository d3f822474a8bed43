"""Every network call to GitHub, JIRA, AWS and trigger targets runs here, outside DB transactions.

Tasks take ids, are acks_late, keep nothing on `self`, and may run twice: each records what it did
(DeploymentSync, IssueLink.notified_at, TriggerDelivery rows) and checks that before acting again.
Transient failures (network errors, 5xx, throttling) are retried with exponential backoff; anything
else is a user error (bad token, missing repository) that is recorded and not retried.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import requests
from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from github import GithubException
from jira import JIRAError

from core.outbound import OutboundRefused
from deployments.models import Deployment, DeploymentGroup, Instance, RevisionSource

from . import links
from .github.client import GitHubClient
from .models import AwsConnection, DeploymentSync, Ec2Discovery, GitHubConnection, Trigger, TriggerDelivery
from .notifications import delivery

log = logging.getLogger(__name__)

MAX_RETRIES = 5


def is_transient(exc: BaseException) -> bool:
    # botocore only here: a worker that never talks to AWS does not load it.
    from botocore.exceptions import ClientError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, OutboundRefused):
        return False  # the policy refused the destination: a retry would be refused too
    if isinstance(exc, (requests.RequestException, OSError, BotoConnectionError, ReadTimeoutError)):
        return True
    if isinstance(exc, GithubException):
        return exc.status is None or exc.status >= 500 or exc.status == 429
    if isinstance(exc, JIRAError):
        return exc.status_code is None or exc.status_code >= 500 or exc.status_code == 429
    if isinstance(exc, ClientError):
        code = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code >= 500 or exc.response.get("Error", {}).get("Code") in {
            "Throttling",
            "RequestLimitExceeded",
        }
    return False


def _backoff(retries: int) -> float:
    return min(600.0, settings.FLEETDECK_TRIGGER_BACKOFF * (2**retries))


def _retry_or_record(task, exc: BaseException, what: str) -> None:
    # Eager runs (tests, the embedded demo) have no worker to retry later: record and move on.
    if is_transient(exc) and task.request.retries < MAX_RETRIES and not task.request.is_eager:
        raise task.retry(exc=exc, countdown=_backoff(task.request.retries))
    log.warning("%s failed: %s: %s", what, type(exc).__name__, exc)


# --- triggers --------------------------------------------------------------------------------


@shared_task(bind=True, acks_late=True, max_retries=None)
def deliver_trigger(
    self,
    trigger_id: int,
    event: str,
    deployment_id: str,
    instance: str = "",
    delivery_id: str = "",
    attempt: int = 1,
) -> bool:
    """One attempt; on failure it schedules the next with backoff until the attempts run out."""
    trigger = Trigger.objects.filter(pk=trigger_id, enabled=True).first()
    deployment = (
        Deployment.objects.select_related("application", "deployment_group", "revision")
        .filter(pk=deployment_id)
        .first()
    )
    if trigger is None or deployment is None:
        return False
    delivery_id = delivery_id or str(uuid.uuid4())
    if TriggerDelivery.objects.filter(delivery_id=delivery_id, ok=True).exists():
        return True  # a duplicate run of a delivery that already went through
    try:  # claim this attempt before the call: a second run of the same task finds it taken
        with transaction.atomic():
            claim = TriggerDelivery.objects.create(
                trigger=trigger,
                delivery_id=delivery_id,
                event=event,
                deployment_id=deployment_id,
                instance=instance or "",
                attempt=attempt,
                error="sending",
            )
    except IntegrityError:
        return False
    data = delivery.payload(trigger, event, deployment, instance, delivery_id)
    outcome = delivery.send(trigger, data)
    claim.ok, claim.status_code = outcome.ok, outcome.status_code
    claim.error, claim.duration_ms = outcome.error, outcome.duration_ms
    claim.save(update_fields=["ok", "status_code", "error", "duration_ms"])
    if outcome.ok:
        return True
    if outcome.retry and attempt < settings.FLEETDECK_TRIGGER_ATTEMPTS:
        deliver_trigger.apply_async(
            args=(trigger_id, event, deployment_id, instance, delivery_id, attempt + 1),
            countdown=_backoff(attempt - 1),
        )
    else:
        log.warning(
            "trigger %s gave up on %s for %s after %s attempts", trigger.name, event, deployment_id, attempt
        )
    return False


# --- issue links, JIRA and GitHub deployments ------------------------------------------------


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def collect_links(self, deployment_id: str) -> None:
    try:
        links.collect(deployment_id)
    except Exception as exc:
        DeploymentSync.objects.update_or_create(
            deployment_id=deployment_id, defaults={"links_error": f"{type(exc).__name__}: {exc}"[:1000]}
        )
        _retry_or_record(self, exc, f"collecting issue links for {deployment_id}")


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def deployment_succeeded(self, deployment_id: str) -> None:
    """Comment on linked JIRA issues; collects the links first if creation-time collection has not run."""
    try:
        sync = DeploymentSync.objects.filter(deployment_id=deployment_id).first()
        if sync is None or sync.links_collected_at is None:
            links.collect(deployment_id)
        links.comment_on_success(deployment_id)
    except Exception as exc:
        _retry_or_record(self, exc, f"commenting on JIRA issues for {deployment_id}")


GITHUB_STATES = {
    "Created": "queued",
    "Queued": "queued",
    "InProgress": "in_progress",
    "Baking": "in_progress",
    "Ready": "in_progress",
    "Succeeded": "success",
    "Failed": "failure",
    "Stopped": "error",
}


# A run that claimed a deployment's GitHub posting and died holds it this long at most.
POSTING_LEASE = timedelta(minutes=5)


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def github_deployment_sync(self, deployment_id: str) -> None:
    """Mirror our deployment on GitHub: create it once, then post each state change once.

    Runs overlap (a sync is queued on every change, a redelivered task runs again), so a run first
    claims the deployment's posting: a conditional update of `DeploymentSync.github_posting_since`.
    The holder creates the GitHub deployment if needed, posts the current state if it is not the one
    recorded, records it, releases the claim, and looks again: a change that came while it posted is
    posted by it. A run that finds the claim held leaves everything to the holder; a claim older than
    POSTING_LEASE (its run died) may be taken over.
    """
    deployment = Deployment.objects.select_related(
        "revision", "application__project", "deployment_group"
    ).get(pk=deployment_id)
    location = deployment.revision.location or {}
    if deployment.revision.source != RevisionSource.GITHUB or not location.get("commit"):
        return
    connection = GitHubConnection.objects.filter(project_id=deployment.application.project_id).first()
    if connection is None or not connection.deployments_api:
        return
    DeploymentSync.objects.get_or_create(deployment_id=deployment_id)
    client = GitHubClient(connection)
    try:
        while claimed := _claim_github_posting(deployment_id):
            try:
                _post_github_state(client, deployment)
            finally:
                DeploymentSync.objects.filter(
                    deployment_id=deployment_id, github_posting_since=claimed
                ).update(github_posting_since=None)
            if not _github_state_behind(deployment_id):
                return
    except Exception as exc:
        _retry_or_record(self, exc, f"GitHub deployment status for {deployment_id}")


def _claim_github_posting(deployment_id: str) -> datetime | None:
    now = timezone.now()
    free = Q(github_posting_since__isnull=True) | Q(github_posting_since__lt=now - POSTING_LEASE)
    claimed = DeploymentSync.objects.filter(free, deployment_id=deployment_id).update(
        github_posting_since=now
    )
    return now if claimed else None


def _github_state_behind(deployment_id: str) -> bool:
    """Whether our deployment's state differs from the one last posted to GitHub."""
    status = Deployment.objects.filter(pk=deployment_id).values_list("status", flat=True).first()
    posted = DeploymentSync.objects.filter(deployment_id=deployment_id).values_list("github_state", flat=True)
    state = GITHUB_STATES.get(status or "", "")
    return bool(state) and state != posted.first()


def _post_github_state(client: GitHubClient, deployment: Deployment) -> None:
    """With the posting claimed: create the GitHub deployment once, post the state if it changed."""
    sync = DeploymentSync.objects.get(deployment_id=deployment.pk)
    if sync.github_deployment_id is None:
        created = client.create_deployment(
            deployment.revision.location["commit"],
            deployment.deployment_group.name,
            deployment.description or deployment.id,
        )
        sync.github_deployment_id = created["id"]
        DeploymentSync.objects.filter(pk=sync.pk).update(github_deployment_id=created["id"])
    deployment.refresh_from_db(fields=["status"])
    state = GITHUB_STATES.get(deployment.status, "")
    if not state or state == sync.github_state:
        return
    log_url = ""
    if settings.PUBLIC_URL and deployment.application.project:
        log_url = (
            f"{settings.PUBLIC_URL}/p/{deployment.application.project.slug}/deployments/{deployment.id}/"
        )
    client.create_deployment_status(
        sync.github_deployment_id, state, f"Fleetdeck {deployment.id}: {deployment.status}", log_url
    )
    DeploymentSync.objects.filter(pk=sync.pk).update(github_state=state)


# --- EC2 discovery ---------------------------------------------------------------------------


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def discover_ec2(self, group_id: int) -> None:
    """Match the group's EC2 tag filters and ASGs to registered agents; remember the ids with no agent."""
    from .aws.client import for_project  # boto3 only in the processes that discover EC2

    discovery = Ec2Discovery.objects.filter(group_id=group_id).first()
    group = DeploymentGroup.objects.select_related("application").filter(pk=group_id).first()
    if discovery is None or group is None:
        return
    connection = AwsConnection.objects.filter(project_id=group.application.project_id).first()
    if connection is None:
        Ec2Discovery.objects.filter(pk=discovery.pk).update(
            error="This project has no AWS connection.", checked_at=timezone.now()
        )
        return
    try:
        client = for_project(connection.project_id)
        ids = client.instances_by_tags(discovery.tag_filters) | client.instances_in_asgs(
            discovery.autoscaling_groups
        )
    except Exception as exc:
        Ec2Discovery.objects.filter(pk=discovery.pk).update(
            error=f"{type(exc).__name__}: {exc}"[:1000], checked_at=timezone.now()
        )
        _retry_or_record(self, exc, f"EC2 discovery for group {group_id}")
        return
    known = set(
        Instance.objects.filter(
            project_id=group.application.project_id, deregistered_at__isnull=True, ec2_instance_id__in=ids
        ).values_list("ec2_instance_id", flat=True)
    )
    Ec2Discovery.objects.filter(pk=discovery.pk).update(
        matched=sorted(ids), missing=sorted(ids - known), checked_at=timezone.now(), error=""
    )


@shared_task(acks_late=True)
def discover_all_ec2() -> int:
    """For celery beat: refresh every group's EC2 discovery."""
    ids = list(Ec2Discovery.objects.values_list("group_id", flat=True))
    for group_id in ids:
        discover_ec2.delay(group_id)
    return len(ids)


# --- import from AWS CodeDeploy --------------------------------------------------------------


@shared_task(acks_late=True)
def import_codedeploy(import_id: int) -> None:
    """Run an import the Integrations page queued; a second delivery of the task finds it claimed."""
    from .aws.client import AwsError  # boto3 only in the processes that talk to AWS
    from .aws.codedeploy_import import import_codedeploy as run_import
    from .models import CodeDeployImport

    claimed = CodeDeployImport.objects.filter(pk=import_id, status=CodeDeployImport.Status.QUEUED).update(
        status=CodeDeployImport.Status.RUNNING
    )
    if not claimed:
        return
    row = CodeDeployImport.objects.select_related("project", "requested_by").get(pk=import_id)
    status, report = CodeDeployImport.Status.FAILED, ""
    try:
        if row.requested_by is None:
            raise PermissionError("The owner who started this import no longer exists.")
        report = run_import(
            row.project, row.requested_by, region=row.region or None, copy_tags=row.copy_ec2_tags
        ).text()
        status = CodeDeployImport.Status.DONE
    except (*AwsError, PermissionError, OutboundRefused) as exc:
        report = f"Could not read CodeDeploy through the project's AWS connection: {exc}"
    except Exception:
        log.exception("CodeDeploy import %s failed", import_id)
        report = "The import failed unexpectedly; the server's log has the details."
    CodeDeployImport.objects.filter(pk=import_id).update(
        status=status, report=report, finished_at=timezone.now()
    )
