"""The CodeStar layer: projects, who is on them, and in what role."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    CONTRIBUTOR = "contributor", "Contributor"
    OWNER = "owner", "Owner"


# Higher rank includes everything below it.
ROLE_RANK = {Role.VIEWER: 1, Role.CONTRIBUTOR: 2, Role.OWNER: 3}


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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def active_deployment(self):
        """A deployment of this project that has not finished yet, if any: it blocks deletion."""
        from deployments.models import DEPLOYMENT_TERMINAL, Deployment

        return (
            Deployment.objects.filter(application__project=self)
            .exclude(status__in=DEPLOYMENT_TERMINAL)
            .values_list("id", flat=True)
            .first()
        )

    def delete_with_history(self) -> None:
        """Delete the project, its applications, their history and its fleet, in one transaction.

        Revisions and deployment configs are protected by the deployments and groups that use them,
        so deployments go first, then the applications (and their groups), then the project with its
        configs.
        """
        from django.db import transaction

        from deployments.models import Application, Deployment

        with transaction.atomic():
            Deployment.objects.filter(application__project=self).delete()
            Application.objects.filter(project=self).delete()
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

    class Meta:
        ordering = ["project", "user"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"

    def allows(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)


class Profile(models.Model):
    """What a user tells the team about themselves. Email lives on the user row."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=100, blank=True)
    ssh_public_key = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.display_name or str(self.user)

    @classmethod
    def of(cls, user) -> Profile:
        profile, _ = cls.objects.get_or_create(user=user)
        return profile


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
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def expired(self) -> bool:
        from django.utils import timezone

        return self.expires_at is not None and self.expires_at <= timezone.now()

    @staticmethod
    def hash(raw: str) -> str:
        import hashlib

        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str, *, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
        import secrets
        from datetime import timedelta

        from django.utils import timezone

        raw = f"{cls.PREFIX}_{secrets.token_urlsafe(32)}"
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        token = cls.objects.create(
            user=user, name=name, token_hash=cls.hash(raw), prefix=raw[:8], expires_at=expires_at
        )
        return token, raw

    @classmethod
    def authenticate(cls, raw: str) -> ApiToken | None:
        from django.utils import timezone

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
        from django.utils import timezone

        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
