from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from .application import NAME_VALIDATOR, DeploymentGroup, Revision


def hash_secret(raw: str) -> str:
    """Credentials are long random strings, so one sha256 is enough and keeps lookups indexed."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


class RegistrationToken(models.Model):
    """Exchanged by an agent for its own credential. Shown once; stored only as a hash."""

    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="registration_tokens",
    )
    description = models.CharField(max_length=200, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)
    tags = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # How many hosts it enrolled (a host registering again with its own credential is not a use), and
    # how many it may: None for no limit.
    uses = models.PositiveIntegerField(default=0)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.description or 'registration token'})"

    @classmethod
    def issue(cls, **fields) -> tuple[RegistrationToken, str]:
        raw = new_secret("fdr")
        token = cls.objects.create(token_hash=hash_secret(raw), prefix=raw[:8], **fields)
        return token, raw

    @classmethod
    def find_usable(cls, raw: str) -> RegistrationToken | None:
        token = cls.objects.filter(token_hash=hash_secret(raw)).first()
        if token is None or not token.is_usable:
            return None
        return token

    @property
    def is_usable(self) -> bool:
        """Whether it may enrol one more host now."""
        return self.unusable_reason() is None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def used_up(self) -> bool:
        return self.max_uses is not None and self.uses >= self.max_uses

    def unusable_reason(self, *, enrolling: bool = True) -> str | None:
        """Why it cannot register a host, in words an operator acts on; None when it can.

        A host registering again (`enrolling=False`) needs the token valid, not a use left."""
        if self.revoked_at is not None or self.expired:
            return "The registration token is unknown, expired or revoked. Ask for a new one."
        if enrolling and self.used_up:
            return (
                f"The registration token has been used {self.uses} times, its limit of {self.max_uses} hosts. "
                "Ask for a new one."
            )
        return None

    def claim_use(self) -> bool:
        """Count one more enrolled host, if a use is left: one conditional UPDATE, so concurrent
        registrations never enrol more than `max_uses` hosts. Call it inside the registration's
        transaction, so a registration that fails later gives the use back."""
        now = timezone.now()
        claimed = (
            RegistrationToken.objects.filter(pk=self.pk, revoked_at__isnull=True)
            .filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))
            .filter(models.Q(max_uses__isnull=True) | models.Q(uses__lt=models.F("max_uses")))
            .update(uses=models.F("uses") + 1, last_used_at=now)
        )
        if claimed:
            self.refresh_from_db(fields=["uses", "last_used_at"])
        return bool(claimed)

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class Instance(models.Model):
    """A host running fleetdeck-agent. It belongs to the project of the token it registered with."""

    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="instances"
    )
    # Unique among the project's live instances: a deregistered instance keeps its name in the history
    # while a new host registers under it.
    name = models.CharField(max_length=100, validators=[NAME_VALIDATOR])
    hostname = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    platform = models.CharField(max_length=50, blank=True)
    agent_version = models.CharField(max_length=50, blank=True)
    ec2_instance_id = models.CharField(max_length=32, blank=True)
    # The address the server saw the agent connect from (registration and each poll): health checks go
    # there, never to a host name the agent reports (see deployments.healthcheck.target).
    peer_address = models.GenericIPAddressField(null=True, blank=True)
    credential_hash = models.CharField(max_length=64, unique=True, editable=False)
    credential_prefix = models.CharField(max_length=12, editable=False)
    registration_token = models.ForeignKey(
        RegistrationToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="instances"
    )
    online = models.BooleanField(default=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(auto_now_add=True)
    # Deregistered instances keep their history but are never targeted and cannot authenticate.
    deregistered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # The sweep's "who went silent" query.
            models.Index(fields=["online", "last_seen"], name="instance_online_last_seen"),
        ]
        constraints = [
            # Registration's "who holds this name in the project" and the API's name look-ups.
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=models.Q(deregistered_at__isnull=True),
                name="instance_unique_live_name_per_project",
            ),
            # Instances outside any project (none are created so any more) keep their names unique.
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(deregistered_at__isnull=True, project__isnull=True),
                name="instance_unique_live_name_without_project",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def rotate_credential(self) -> str:
        raw = new_secret("fdi")
        self.credential_hash = hash_secret(raw)
        self.credential_prefix = raw[:8]
        return raw

    @classmethod
    def holding(cls, *credential_hashes: str):
        """The instances these stored credential hashes authenticate: registered ones only."""
        return cls.objects.filter(credential_hash__in=credential_hashes, deregistered_at__isnull=True)

    @classmethod
    def authenticate(cls, raw: str) -> Instance | None:
        if not raw:
            return None
        return cls.holding(hash_secret(raw)).first()

    def seen(self) -> None:
        """Record a heartbeat. Throttled to a few writes per offline window per instance."""
        Instance.seen_many([self])

    @classmethod
    def seen_many(cls, instances) -> None:
        """Record heartbeats of many instances in one UPDATE, each throttled as `seen` is."""
        now = timezone.now()
        throttle = timedelta(seconds=min(5.0, settings.AGENT_OFFLINE_AFTER / 4))
        stale = [i for i in instances if not (i.online and i.last_seen and now - i.last_seen < throttle)]
        if not stale:
            return
        cls.objects.filter(pk__in=[i.pk for i in stale]).update(last_seen=now, online=True)
        for instance in stale:
            instance.last_seen, instance.online = now, True

    def deregister(self) -> None:
        self.deregistered_at = timezone.now()
        self.online = False
        self.save(update_fields=["deregistered_at", "online"])


class InstanceGroupState(models.Model):
    """What a host has installed for one deployment group, for ordering and the fleet pages."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="group_states")
    group = models.ForeignKey(DeploymentGroup, on_delete=models.CASCADE, related_name="instance_states")
    revision = models.ForeignKey(Revision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_status = models.CharField(max_length=16, blank=True)
    last_deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instance", "group"], name="instancegroupstate_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.instance_id} in {self.group_id}: {self.revision_id} ({self.last_status})"
