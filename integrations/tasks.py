"""Every network call to GitHub, JIRA, AWS and trigger targets runs here, outside DB transactions.

Tasks take ids, are acks_late, keep nothing on `self`, and may run twice: each records what it did
(DeploymentSync, IssueLink.notified_at, TriggerDelivery rows) and checks that before acting again.
Transient failures (network errors, 5xx, throttling) are retried with exponential backoff; anything
else is a user error (bad token, missing repository) that is recorded and not retried.
"""

from __future__ import annotations

import logging
import uuid

import requests
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)

MAX_RETRIES = 5


def is_transient(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from github import GithubException
    from jira import JIRAError

    from core.outbound import OutboundRefused

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
    from deployments.models import Deployment

    from .models import Trigger, TriggerDelivery
    from .notifications import delivery

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
    data = delivery.payload(trigger, event, deployment, instance, delivery_id)
    outcome = delivery.send(trigger, data)
    TriggerDelivery.objects.create(
        trigger=trigger,
        delivery_id=delivery_id,
        event=event,
        deployment_id=deployment_id,
        instance=instance or "",
        attempt=attempt,
        ok=outcome.ok,
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
    )
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
    from . import links
    from .models import DeploymentSync

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
    from . import links
    from .models import DeploymentSync

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


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def github_deployment_sync(self, deployment_id: str) -> None:
    """Mirror our deployment on GitHub: create it once, then post the current state if it changed."""
    from django.conf import settings

    from deployments.models import Deployment, RevisionSource

    from .github.client import GitHubClient
    from .models import DeploymentSync, GitHubConnection

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
        # Claim the creation with a conditional update, so two runs never create two GitHub deployments.
        with transaction.atomic():
            claimed = DeploymentSync.objects.filter(
                deployment_id=deployment_id, github_deployment_id__isnull=True, github_state=""
            ).update(github_state="creating")
        if claimed:
            try:
                created = client.create_deployment(
                    location["commit"],
                    deployment.deployment_group.name,
                    deployment.description or deployment.id,
                )
            except Exception:
                DeploymentSync.objects.filter(deployment_id=deployment_id).update(github_state="")
                raise
            DeploymentSync.objects.filter(deployment_id=deployment_id).update(
                github_deployment_id=created["id"], github_state=""
            )
        sync = DeploymentSync.objects.get(deployment_id=deployment_id)
        if sync.github_deployment_id is None:
            return  # another run is creating it and will post the state
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
        DeploymentSync.objects.filter(deployment_id=deployment_id).update(github_state=state)
    except Exception as exc:
        _retry_or_record(self, exc, f"GitHub deployment status for {deployment_id}")


# --- EC2 discovery ---------------------------------------------------------------------------


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def discover_ec2(self, group_id: int) -> None:
    """Match the group's EC2 tag filters and ASGs to registered agents; remember the ids with no agent."""
    from deployments.models import DeploymentGroup, Instance

    from .aws.client import for_project
    from .models import AwsConnection, Ec2Discovery

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
    from .models import Ec2Discovery

    ids = list(Ec2Discovery.objects.values_list("group_id", flat=True))
    for group_id in ids:
        discover_ec2.delay(group_id)
    return len(ids)
