"""Per-project connections to outside systems, triggers, delivery logs and what deployments link to.

Secrets live in EncryptedTextField columns: ciphertext in the database, plain text only in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets
import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from core.crypto import EncryptedTextField

REPOSITORY_VALIDATOR = RegexValidator(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", 'Use "owner/name".')


class GitHubConnection(models.Model):
    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="github_connection"
    )
    token = EncryptedTextField(blank=True)
    repository = models.CharField(max_length=200, validators=[REPOSITORY_VALIDATOR])
    default_branch = models.CharField(max_length=200, default="main")
    # GitHub Enterprise: https://github.example.com/api/v3. Tests point it at a local fake.
    api_url = models.URLField(default="https://api.github.com")
    webhook_secret = EncryptedTextField(blank=True)
    # Create GitHub deployments and post their statuses as ours progress.
    deployments_api = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"GitHub {self.repository}"

    @property
    def owner_and_name(self) -> tuple[str, str]:
        owner, _, name = self.repository.partition("/")
        return owner, name

    def ensure_webhook_secret(self) -> str:
        if not self.webhook_secret:
            self.webhook_secret = _secrets.token_urlsafe(32)
        return self.webhook_secret


class AutoDeployRule(models.Model):
    """A push to `branch` deploys the pushed commit to `group`."""

    connection = models.ForeignKey(GitHubConnection, on_delete=models.CASCADE, related_name="rules")
    branch = models.CharField(max_length=200)
    group = models.ForeignKey("deployments.DeploymentGroup", on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["branch", "id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "branch", "group"], name="autodeployrule_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.branch} → {self.group}"


class GitHubDelivery(models.Model):
    """Every push webhook we accepted, by GitHub's delivery id: a second one with the same id is a replay."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    delivery_id = models.CharField(max_length=100, unique=True)
    event = models.CharField(max_length=50)
    ref = models.CharField(max_length=255, blank=True)
    commit = models.CharField(max_length=64, blank=True)
    result = models.TextField(blank=True)
    deployments = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # The owner's delivery log, newest first.
            models.Index(fields=["project", "-received_at"], name="ghdelivery_project_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"


class JiraAuth(models.TextChoices):
    CLOUD = "cloud", "JIRA Cloud: email + API token"
    PAT = "pat", "JIRA Server / Data Center: personal access token"


class JiraConnection(models.Model):
    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="jira_connection"
    )
    server_url = models.URLField()
    auth = models.CharField(max_length=8, choices=JiraAuth.choices, default=JiraAuth.CLOUD)
    email = models.EmailField(blank=True)
    token = EncryptedTextField(blank=True)
    jql = models.CharField(
        max_length=1000, blank=True, default="resolution = Unresolved ORDER BY updated DESC"
    )
    comment_on_success = models.BooleanField(default=True)
    # e.g. "Done"; blank leaves the issue where it is.
    transition_on_success = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"JIRA {self.server_url}"


def external_id_for(project_id: int) -> str:
    """The external ID the server presents when it assumes a project's IAM role: unique to the project
    and chosen by the server, never by a user, so one project cannot have the server assume another's
    role (the confused-deputy problem external IDs exist for). Stored on the connection when saved, so
    a later change of the secret key does not break the role's trust policy."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"fleetdeck-aws-external-id:{project_id}".encode(), hashlib.sha256
    ).hexdigest()
    return f"fleetdeck-{digest[:32]}"


class AwsConnection(models.Model):
    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="aws_connection"
    )
    access_key_id = models.CharField(max_length=128, blank=True)
    secret_access_key = EncryptedTextField(blank=True)
    role_arn = models.CharField(max_length=300, blank=True)
    # Sent with sts:AssumeRole of role_arn; the role's trust policy requires it (sts:ExternalId).
    external_id = models.CharField(max_length=64, blank=True, editable=False)
    region = models.CharField(max_length=32, default="us-east-1")
    # S3-compatible stores (MinIO) and test endpoints.
    endpoint_url = models.URLField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One project's external ID is never another's.
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~models.Q(external_id=""),
                name="awsconnection_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"AWS {self.region}"

    def save(self, *args, **kwargs):
        if not self.external_id and self.project_id:
            self.external_id = external_id_for(self.project_id)
        super().save(*args, **kwargs)


class TriggerEvent(models.TextChoices):
    DEPLOYMENT_START = "DeploymentStart"
    DEPLOYMENT_SUCCESS = "DeploymentSuccess"
    DEPLOYMENT_FAILURE = "DeploymentFailure"
    DEPLOYMENT_STOP = "DeploymentStop"
    DEPLOYMENT_ROLLBACK = "DeploymentRollback"
    DEPLOYMENT_READY = "DeploymentReady"
    INSTANCE_START = "InstanceStart"
    INSTANCE_SUCCESS = "InstanceSuccess"
    INSTANCE_FAILURE = "InstanceFailure"
    INSTANCE_READY = "InstanceReady"


class DeliveryKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (signed JSON)"
    SLACK = "slack", "Slack-compatible incoming webhook"
    EMAIL = "email", "Email"


class Trigger(models.Model):
    group = models.ForeignKey(
        "deployments.DeploymentGroup", on_delete=models.CASCADE, related_name="triggers"
    )
    name = models.CharField(max_length=100)
    events = models.JSONField(default=list)
    kind = models.CharField(max_length=8, choices=DeliveryKind.choices, default=DeliveryKind.WEBHOOK)
    # A URL for webhook/slack, comma-separated addresses for email. Encrypted: a Slack URL is a credential.
    target = EncryptedTextField(max_length=1000)
    secret = EncryptedTextField(blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="trigger_unique_name_per_group"),
        ]

    def __str__(self) -> str:
        return self.name

    def ensure_secret(self) -> str:
        if not self.secret:
            self.secret = _secrets.token_urlsafe(32)
        return self.secret


class TriggerDelivery(models.Model):
    """One attempt to deliver one event to one trigger. Retries share `delivery_id`."""

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.UUIDField(default=uuid.uuid4)
    event = models.CharField(max_length=32, choices=TriggerEvent.choices)
    deployment_id = models.CharField(max_length=11, blank=True)
    instance = models.CharField(max_length=100, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The owner's delivery log per trigger, newest first.
            models.Index(fields=["trigger", "-created_at"], name="triggerdelivery_recent"),
        ]
        constraints = [
            # Claimed before the call: two runs of one task (a redelivery) never both send an attempt.
            models.UniqueConstraint(
                fields=["delivery_id", "attempt"], name="triggerdelivery_one_run_per_attempt"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.attempt} ({'ok' if self.ok else 'failed'})"


class Tracker(models.TextChoices):
    GITHUB = "github", "GitHub Issues"
    JIRA = "jira", "JIRA"


class IssueLink(models.Model):
    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="issue_links"
    )
    tracker = models.CharField(max_length=8, choices=Tracker.choices)
    key = models.CharField(max_length=64)
    title = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=100, blank=True)
    url = models.URLField(max_length=500, blank=True)
    # When a run claimed it to comment after success (cleared again if the comment failed): a rerun,
    # or a run beside it, never comments twice.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tracker", "key"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "tracker", "key"], name="issuelink_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tracker}:{self.key}"


class DeploymentSync(models.Model):
    """What the integrations did for one deployment, so each task can run twice harmlessly."""

    deployment = models.OneToOneField("deployments.Deployment", on_delete=models.CASCADE, related_name="+")
    links_collected_at = models.DateTimeField(null=True, blank=True)
    links_error = models.TextField(blank=True)
    github_deployment_id = models.BigIntegerField(null=True, blank=True)
    github_state = models.CharField(max_length=20, blank=True)
    # Set while one run of github_deployment_sync posts to GitHub: two runs never post the same state.
    github_posting_since = models.DateTimeField(null=True, blank=True)
    commented_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sync of {self.deployment_id}"


class Ec2Discovery(models.Model):
    """Which EC2 instances should be in a group, and which of them have no registered agent."""

    group = models.OneToOneField("deployments.DeploymentGroup", on_delete=models.CASCADE, related_name="+")
    # [{"key": "Name", "value": "web"}], ORed like CodeDeploy's ec2TagFilters.
    tag_filters = models.JSONField(default=list, blank=True)
    autoscaling_groups = models.JSONField(default=list, blank=True)
    matched = models.JSONField(default=list, blank=True)
    missing = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"EC2 discovery for {self.group_id}"


class CodeDeployImport(models.Model):
    """One run of the import from AWS CodeDeploy started on the Integrations page, and its report."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    region = models.CharField(max_length=32, blank=True)
    copy_ec2_tags = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    report = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"CodeDeploy import {self.pk} of {self.project_id} ({self.status})"
