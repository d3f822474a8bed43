from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from deployments.planner import HealthRule, matches_tags

from .choices import (
    BundleType,
    DeploymentOption,
    DeploymentStyle,
    FileExistsBehavior,
    MinimumHealthyType,
    OutdatedInstancesStrategy,
    RevisionSource,
)

NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
    "Use 1-100 letters, digits, dots, dashes or underscores, starting with a letter or digit.",
)
ONE_AT_A_TIME = "CodeDeployDefault.OneAtATime"
HALF_AT_A_TIME = "CodeDeployDefault.HalfAtATime"
ALL_AT_ONCE = "CodeDeployDefault.AllAtOnce"


class Application(models.Model):
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="applications"
    )
    # Unique within the project: another project may use the same name (and never learns of this one).
    name = models.CharField(max_length=100, validators=[NAME_VALIDATOR])
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["name"]
        constraints = [
            # The API's /applications/{name}/ look-up within the caller's projects.
            models.UniqueConstraint(fields=["project", "name"], name="application_unique_name_per_project"),
            # Applications outside any project (none are created so any more) keep their names unique.
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(project__isnull=True),
                name="application_unique_name_without_project",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DeploymentConfig(models.Model):
    """A minimum-healthy-hosts rule. OneAtATime is special: one host at a time, the last may fail.

    The built-ins are global and read-only; a custom config belongs to one project, which alone sees,
    uses and changes it."""

    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deployment_configs",
    )
    # Unique within the project; the built-ins' names (CodeDeployDefault.*) are reserved everywhere.
    name = models.CharField(max_length=100, validators=[NAME_VALIDATOR])
    minimum_healthy_type = models.CharField(max_length=16, choices=MinimumHealthyType.choices)
    minimum_healthy_value = models.PositiveIntegerField()
    builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-builtin", "name"]
        constraints = [
            models.CheckConstraint(
                name="deploymentconfig_percent_range",
                condition=~models.Q(minimum_healthy_type="FLEET_PERCENT")
                | models.Q(minimum_healthy_value__lte=99),
            ),
            # The API's /deployment-configs/{name}/ look-up within the caller's projects.
            models.UniqueConstraint(
                fields=["project", "name"], name="deploymentconfig_unique_name_per_project"
            ),
            # The built-ins, and custom configs no project could be found for (see migration 0012).
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(project__isnull=True),
                name="deploymentconfig_unique_name_without_project",
            ),
            models.CheckConstraint(
                name="deploymentconfig_builtins_are_global",
                condition=models.Q(builtin=False) | models.Q(project__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def usable_in(cls, project_id: int | None):
        """The configs a group or deployment of this project may use: the built-ins and its own."""
        return cls.objects.filter(models.Q(builtin=True) | models.Q(project_id=project_id, builtin=False))

    def health_rule(self):
        if self.name == ONE_AT_A_TIME:
            return HealthRule.one_at_a_time()
        return HealthRule(self.minimum_healthy_type, self.minimum_healthy_value)


class DeploymentGroup(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="deployment_groups")
    name = models.CharField(max_length=100, validators=[NAME_VALIDATOR])
    # The id hooks see as DEPLOYMENT_GROUP_ID and agents use for their on-disk folders.
    group_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    deployment_config = models.ForeignKey(DeploymentConfig, on_delete=models.PROTECT, related_name="groups")
    # A flat list of {key, value, type} filters, ORed; or a tag set: up to 3 lists, AND across, OR within.
    tag_filters = models.JSONField(default=list, blank=True)
    tag_set = models.JSONField(default=list, blank=True)
    deployment_style = models.CharField(
        max_length=16, choices=DeploymentStyle.choices, default=DeploymentStyle.IN_PLACE
    )
    deployment_option = models.CharField(
        max_length=32, choices=DeploymentOption.choices, default=DeploymentOption.WITHOUT_TRAFFIC_CONTROL
    )
    ignore_application_stop_failures = models.BooleanField(default=False)
    file_exists_behavior = models.CharField(
        max_length=16, choices=FileExistsBehavior.choices, default=FileExistsBehavior.DISALLOW
    )
    outdated_instances_strategy = models.CharField(
        max_length=16, choices=OutdatedInstancesStrategy.choices, default=OutdatedInstancesStrategy.UPDATE
    )
    # Filled in by the blue/green, traffic, alarm and rollback features.
    auto_rollback_events = models.JSONField(default=list, blank=True)
    alarm_configuration = models.JSONField(default=dict, blank=True)
    load_balancer_info = models.JSONField(default=dict, blank=True)
    blue_green_configuration = models.JSONField(default=dict, blank=True)
    # Built-in HTTP health check: {"url": "http://{hostname}:8080/health", "expected_status": 200,
    # "interval": 2, "threshold": 2, "timeout": 60, "bake_seconds": 0}. Empty: none.
    health_check = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["application__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "name"], name="deploymentgroup_unique_name_per_app"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application.name}/{self.name}"

    @property
    def with_traffic_control(self) -> bool:
        return self.deployment_option == DeploymentOption.WITH_TRAFFIC_CONTROL

    def matches(self, tags: dict[str, str]) -> bool:
        return matches_tags(tags, self.tag_filters, self.tag_set)


def _bundle_path(revision: Revision, filename: str) -> str:
    return f"bundles/{revision.application_id}/{uuid.uuid4().hex}.{revision.bundle_type or 'bin'}"


class Revision(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="revisions")
    source = models.CharField(max_length=16, choices=RevisionSource.choices, default=RevisionSource.UPLOAD)
    bundle = models.FileField(upload_to=_bundle_path, blank=True)
    bundle_type = models.CharField(max_length=8, choices=BundleType.choices)
    sha256 = models.CharField(
        max_length=64, blank=True, validators=[RegexValidator(r"^[0-9a-f]{64}$", "not a sha256 hex digest")]
    )
    size = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    # When retention deleted the stored bundle (FLEETDECK_KEEP_REVISIONS): deploying it is then refused
    # with REVISION_MISSING. `bundle` is empty from then on; size and sha256 stay as a record.
    bundle_pruned_at = models.DateTimeField(null=True, blank=True)
    # Where an S3 or GitHub revision lives: bucket/key/version/etag or repository/commit.
    location = models.JSONField(default=dict, blank=True)
    appspec = models.TextField(blank=True)
    description = models.CharField(max_length=500, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.application.name}@{self.sha256[:12] or self.pk}"

    @property
    def display_name(self) -> str:
        return f"r{self.pk} ({self.sha256[:8]})" if self.sha256 else f"r{self.pk}"

    def hook_environment(self) -> dict[str, str]:
        """BUNDLE_* variables hooks receive for this revision's source."""
        loc = self.location or {}
        if self.source == RevisionSource.S3:
            return {
                "BUNDLE_BUCKET": loc.get("bucket", ""),
                "BUNDLE_KEY": loc.get("key", ""),
                "BUNDLE_VERSION": loc.get("version", "") or "",
                "BUNDLE_ETAG": loc.get("etag", "") or "",
            }
        if self.source == RevisionSource.GITHUB:
            return {"BUNDLE_COMMIT": loc.get("commit", "")}
        return {"BUNDLE_SHA256": self.sha256}


__all__ = [
    "ALL_AT_ONCE",
    "HALF_AT_A_TIME",
    "ONE_AT_A_TIME",
    "Application",
    "DeploymentConfig",
    "DeploymentGroup",
    "MaxValueValidator",
    "Revision",
]
