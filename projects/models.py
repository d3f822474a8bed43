"""Projects, who is on them and in what role, personal API tokens and CodeDeploy access keys.

The tables keep the names they had when these models lived in `dashboard` (migration
projects/0001 moved them without touching the database).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.utils import timezone

from core.crypto import EncryptedTextField

from .signals import deletion_blocked_by, project_deleting


class Role(models.TextChoices):
    """In rising order: each role may do everything the roles before it may."""

    VIEWER = "viewer", "Viewer"
    CONTRIBUTOR = "contributor", "Contributor"
    OWNER = "owner", "Owner"

    @classmethod
    def at_least(cls, role: str) -> list[str]:
        """The roles that include `role`: itself and every role above it. The one rank comparison."""
        order = list(cls)
        return [held.value for held in order[order.index(cls(role)) :]]

    @classmethod
    def grants(cls, held: str, needed: str) -> bool:
        return held in cls.at_least(needed)


class MembershipQuerySet(models.QuerySet):
    def project_ids(self, user, role: str = Role.VIEWER) -> models.QuerySet:
        """A subquery of the ids of the projects where `user` holds `role` or better; none for an
        anonymous or deactivated user."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none().values("project_id")
        return self.filter(user=user, role__in=Role.at_least(role)).values("project_id")


class ProjectQuerySet(models.QuerySet):
    def for_user(self, user, role: str = Role.VIEWER) -> ProjectQuerySet:
        """Only the projects where `user` holds `role` or better.

        A subquery rather than a join, so a project is listed once and the queryset can be
        filtered, annotated and paginated further like any other."""
        return self.filter(pk__in=Membership.objects.project_ids(user, role))


class Project(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9-]*$", "Use lowercase letters, digits and dashes.")],
    )
    description = models.TextField(blank=True)
    template = models.CharField(max_length=50, blank=True)
    # "owner/name" on GitHub, or blank. The integrations issue turns this into a linked repository.
    repository = models.CharField(max_length=200, blank=True)
    # "jira", "github" or blank ("none"); only "none" is offered until the integrations exist.
    issue_tracker = models.CharField(max_length=20, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        db_table = "dashboard_project"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def busy_with(self) -> str | None:
        """What still runs in the project ("Deployment d-…") and so blocks its deletion, or None.

        The apps above this one answer (projects.signals.deletion_blocked_by), each for its own rows."""
        for _receiver, answer in deletion_blocked_by.send(sender=Project, project=self):
            if answer:
                return answer
        return None

    def delete_with_history(self) -> None:
        """Delete the project with everything in it, in one transaction.

        Rows that protect themselves from a cascade (a deployment protects its revision and config)
        are deleted first by their own app, on projects.signals.project_deleting."""
        with transaction.atomic():
            project_deleting.send(sender=Project, project=self)
            self.delete()

    def role_of(self, user) -> str | None:
        if user is None or not user.is_authenticated:
            return None
        membership = self.memberships.filter(user=user).only("role").first()
        return membership.role if membership else None


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        db_table = "dashboard_membership"
        ordering = ["project", "user"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"

    def allows(self, role: str) -> bool:
        return Role.grants(self.role, role)


class ApiToken(models.Model):
    """A personal API token: `Authorization: Token fdp_…`. Shown once; only its sha256 is stored."""

    PREFIX = "fdp"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: until revoked

    class Meta:
        db_table = "dashboard_apitoken"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str, *, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
        raw = f"{cls.PREFIX}_{secrets.token_urlsafe(32)}"
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        token = cls.objects.create(
            user=user, name=name, token_hash=cls.hash(raw), prefix=raw[:8], expires_at=expires_at
        )
        return token, raw

    @classmethod
    def authenticate(cls, raw: str) -> ApiToken | None:
        now = timezone.now()
        token = (
            cls.objects.filter(token_hash=cls.hash(raw), revoked_at__isnull=True)
            .filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))
            .select_related("user")
            .first()
        )
        if token is None:
            return None
        # At most one write a minute per token, so busy scripts do not hammer the row.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class AccessKey(models.Model):
    """An AWS-style access key for the CodeDeploy-compatible endpoint (deployments/codedeploy/).

    Scoped to one project, which plays the part of an AWS account; the key acts with its user's role
    there at the time of each request. SigV4 needs the secret itself to check a signature, so it is
    stored encrypted (core/crypto.py), not hashed, and shown once, when the key is created."""

    PREFIX = "FDK"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_keys")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="access_keys")
    # FDK + 17 upper-case letters and digits: 20 characters, like an AWS access key id.
    key_id = models.CharField(max_length=20, unique=True, editable=False)
    secret = EncryptedTextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.project.slug})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, user, project: Project) -> tuple[AccessKey, str]:
        """A new key and its secret (40 characters, as AWS's); the secret is never shown again."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        key_id = cls.PREFIX + "".join(secrets.choice(alphabet) for _ in range(17))
        secret = secrets.token_urlsafe(30)[:40]
        return cls.objects.create(user=user, project=project, key_id=key_id, secret=secret), secret

    @classmethod
    def active_by_id(cls, key_id: str) -> AccessKey | None:
        return (
            cls.objects.filter(key_id=key_id, revoked_at__isnull=True)
            .select_related("user", "project")
            .first()
        )

    def touch(self) -> None:
        """Record a use; at most one write a minute per key, so busy pipelines do not hammer the row."""
        now = timezone.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() > 60:
            AccessKey.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
