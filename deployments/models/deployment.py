from __future__ import annotations

import secrets
import string
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .. import writebehind
from .application import Application, DeploymentConfig, DeploymentGroup, Revision
from .choices import (
    COMMAND_OPEN,
    COMMAND_TRANSITIONS,
    DEPLOYMENT_TERMINAL,
    DEPLOYMENT_TRANSITIONS,
    EVENT_TRANSITIONS,
    PHASE_TRANSITIONS,
    TARGET_TRANSITIONS,
    CommandStatus,
    Creator,
    DeploymentStatus,
    EntryKind,
    ErrorCode,
    EventStatus,
    Executor,
    FileExistsBehavior,
    Phase,
    Role,
    ScriptErrorCode,
    TargetStatus,
)
from .eventlog import append, entry
from .fleet import Instance

_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_deployment_id() -> str:
    return "d-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))


class IllegalTransition(Exception):
    def __init__(self, what: str, current: str, wanted: str):
        super().__init__(f"{what} cannot move from {current} to {wanted}")
        self.current, self.wanted = current, wanted


def _check(what: str, table: dict[str, frozenset[str]], current: str, wanted: str) -> None:
    if wanted not in table[current]:
        raise IllegalTransition(what, current, wanted)


class TransitionQuerySet(models.QuerySet):
    """Bulk moves that the model's transition table (`TRANSITIONS`) allows, and no other."""

    def move_all(self, current: str, wanted: str, **fields) -> int:
        """Move the rows of this query that are in `current` to `wanted` in one UPDATE; returns how
        many moved. Refuses (IllegalTransition) a move the table does not allow, before any write."""
        _check(f"{self.model.__name__} rows", self.model.TRANSITIONS, current, wanted)
        return self.filter(status=current).update(status=wanted, **fields)


class Deployment(models.Model):
    id = models.CharField(primary_key=True, max_length=11, default=new_deployment_id, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="deployments")
    deployment_group = models.ForeignKey(
        DeploymentGroup, on_delete=models.CASCADE, related_name="deployments"
    )
    revision = models.ForeignKey(Revision, on_delete=models.PROTECT, related_name="deployments")
    deployment_config = models.ForeignKey(DeploymentConfig, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=DeploymentStatus.choices, default=DeploymentStatus.CREATED
    )
    error_code = models.CharField(max_length=32, choices=ErrorCode.choices, blank=True)
    error_message = models.TextField(blank=True)
    creator = models.CharField(max_length=32, choices=Creator.choices, default=Creator.USER)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    description = models.CharField(max_length=500, blank=True)
    # Resolved at creation from the request's overrides and the group's defaults.
    file_exists_behavior = models.CharField(max_length=16, choices=FileExistsBehavior.choices)
    ignore_application_stop_failures = models.BooleanField(default=False)
    minimum_healthy = models.PositiveIntegerField(default=0)
    # None: the group's setting. A list of DEPLOYMENT_FAILURE / DEPLOYMENT_STOP_ON_ALARM /
    # DEPLOYMENT_STOP_ON_REQUEST overrides it for this deployment.
    auto_rollback_events = models.JSONField(null=True, blank=True)
    # None: every instance matching the group. A list of instance ids restricts the targets
    # (deployments to hosts that joined the group later).
    instance_ids = models.JSONField(null=True, blank=True)
    # The last sequence number handed out in this deployment's event log.
    event_seq = models.BigIntegerField(default=0)
    stop_requested_at = models.DateTimeField(null=True, blank=True)
    # Blue/green only: install → reroute → block → bake (PHASE_TRANSITIONS, through move_phase_to),
    # and the deadline of the current wait (Ready: waiting for "continue"; Baking: until the originals
    # are retired).
    phase = models.CharField(max_length=16, blank=True, choices=Phase.choices, default=Phase.NONE)
    wait_until = models.DateTimeField(null=True, blank=True)
    rollback_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rolled_back_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # When retention deleted its log lines (FLEETDECK_LOG_RETENTION_DAYS); the rest of its record stays.
    log_expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Retention's "finished deployments whose log is due to expire": once expired, a row
            # leaves this index, so the daily look-up stays small however long the history grows.
            models.Index(
                fields=["ended_at"],
                name="deployment_log_unexpired",
                condition=models.Q(log_expired_at__isnull=True),
            ),
            # "Is another deployment active in this group?" and the per-group history.
            models.Index(fields=["deployment_group", "status"], name="deployment_group_status"),
            # Every "newest first" list (dashboard activity, deployment list, API) sorts by (created_at, id):
            # with both columns the top rows come straight off the index instead of a sort of them all.
            models.Index(fields=["-created_at", "-id"], name="deployment_newest_first"),
            # The dashboard's "latest deployment per group" and "last successful revision per group".
            models.Index(fields=["deployment_group", "-created_at"], name="deployment_group_latest"),
            models.Index(
                fields=["deployment_group", "status", "-created_at"], name="deployment_group_status_at"
            ),
        ]

    def __str__(self) -> str:
        return self.id

    def save(self, *args, **kwargs):
        # event_seq is only ever advanced by eventlog.append's UPDATE; a full save must not rewind it.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "event_seq"
            ]
        super().save(*args, **kwargs)

    @property
    def is_terminal(self) -> bool:
        return self.status in DEPLOYMENT_TERMINAL

    @property
    def is_halting(self) -> bool:
        """Stopping on request or after a health failure: no new hosts or events are started."""
        return bool(self.error_code) and not self.is_terminal

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.ended_at or timezone.now()) - self.started_at

    def move_to(self, status: str, *, error_code: str = "", message: str = "") -> None:
        """Change status under the caller's row lock and record the change in the event log."""
        _check(f"Deployment {self.id}", DEPLOYMENT_TRANSITIONS, self.status, status)
        now = timezone.now()
        fields = ["status"]
        self.status = status
        if status == DeploymentStatus.IN_PROGRESS and self.started_at is None:
            self.started_at = now
            fields.append("started_at")
        if status in DEPLOYMENT_TERMINAL:
            self.ended_at = now
            fields.append("ended_at")
        if error_code:
            self.error_code, self.error_message = error_code, message
            fields += ["error_code", "error_message"]
        self.save(update_fields=fields)
        append(
            self.id,
            [entry(EntryKind.DEPLOYMENT, status=status, error_code=self.error_code, message=message)],
        )

    def mark_halting(self, error_code: str, message: str) -> bool:
        """Remember why the deployment will end badly; the first reason wins."""
        if self.error_code or self.is_terminal:
            return False
        self.error_code, self.error_message = error_code, message
        fields = ["error_code", "error_message"]
        if error_code == ErrorCode.MANUAL_STOP:
            self.stop_requested_at = timezone.now()
            fields.append("stop_requested_at")
        self.save(update_fields=fields)
        append(
            self.id,
            [entry(EntryKind.HALTING, status=self.status, error_code=error_code, message=message)],
        )
        return True

    def move_phase_to(self, phase: str, *, wait_until=None, update_fields: tuple[str, ...] = ()) -> None:
        """Enter a blue/green phase under the caller's row lock; `wait_until` is the new phase's
        deadline (None: no wait), `update_fields` other fields the caller changed, saved with it.
        Refuses a phase change PHASE_TRANSITIONS does not allow."""
        _check(f"Deployment {self.id}'s phase", PHASE_TRANSITIONS, self.phase, phase)
        self.phase, self.wait_until = phase, wait_until
        self.save(update_fields=["phase", "wait_until", *update_fields])


class DeploymentTarget(models.Model):
    TRANSITIONS = TARGET_TRANSITIONS

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="targets")
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="targets")
    # Where the host falls in the rollout order (0 first) and in the static plan.
    position = models.PositiveIntegerField()
    batch = models.PositiveIntegerField(default=0)
    # Blue/green: "replacement" (gets the new revision, then traffic) or "original" (loses traffic).
    role = models.CharField(max_length=16, blank=True, choices=Role.choices, default=Role.NONE)
    status = models.CharField(max_length=16, choices=TargetStatus.choices, default=TargetStatus.PENDING)
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = TransitionQuerySet.as_manager()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "instance"], name="target_unique_instance"),
        ]
        indexes = [
            # advance(): pending targets in rollout order, and the status counts.
            models.Index(fields=["deployment", "status", "position"], name="target_dep_status_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id}/{self.instance_id}"

    def move_to(self, status: str, *, message: str = "") -> None:
        _check(f"Target {self.instance_id}", TARGET_TRANSITIONS, self.status, status)
        now = timezone.now()
        self.status = status
        fields = ["status"]
        if status == TargetStatus.IN_PROGRESS and self.started_at is None:
            self.started_at = now
            fields.append("started_at")
        if status in (
            TargetStatus.SUCCEEDED,
            TargetStatus.FAILED,
            TargetStatus.SKIPPED,
            TargetStatus.UNKNOWN,
        ):
            self.ended_at = now
            fields.append("ended_at")
        if message:
            self.message = message
            fields.append("message")
        self.save(update_fields=fields)
        append(
            self.deployment_id,
            [entry(EntryKind.TARGET, instance=self.instance.name, status=status, message=message)],
        )


class LifecycleEvent(models.Model):
    TRANSITIONS = EVENT_TRANSITIONS

    target = models.ForeignKey(DeploymentTarget, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=32)
    position = models.PositiveSmallIntegerField()
    executor = models.CharField(max_length=8, choices=Executor.choices, default=Executor.AGENT)
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=32, choices=ScriptErrorCode.choices, blank=True)
    script_name = models.CharField(max_length=500, blank=True)
    message = models.TextField(blank=True)
    log_tail = models.TextField(blank=True)

    objects = TransitionQuerySet.as_manager()

    class Meta:
        ordering = ["target_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["target", "position"], name="event_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.target_id}:{self.name}"

    @property
    def diagnostics(self) -> dict | None:
        if not (self.error_code or self.message or self.log_tail):
            return None
        return {
            "error_code": self.error_code,
            "script_name": self.script_name,
            "message": self.message,
            "log_tail": self.log_tail,
        }

    def move_to(self, status: str, *, instance_name: str, deployment_id: str, **diagnostics) -> None:
        _check(f"Event {self.name}", EVENT_TRANSITIONS, self.status, status)
        now = timezone.now()
        self.status = status
        fields = ["status"]
        if status == EventStatus.IN_PROGRESS:
            self.started_at = diagnostics.pop("started_at", None) or now
            fields.append("started_at")
        elif status != EventStatus.PENDING:
            # The agent's own start time when it reports one: then both ends of the duration come from
            # the host's clock (the server's InProgress time is when it handed the event out).
            self.started_at = diagnostics.pop("started_at", None) or self.started_at
            self.ended_at = diagnostics.pop("ended_at", None) or now
            fields += ["started_at", "ended_at"]
        for key in ("error_code", "script_name", "message", "log_tail"):
            if key in diagnostics and diagnostics[key] is not None:
                setattr(self, key, diagnostics[key])
                fields.append(key)
        writebehind.save(self, fields)
        append(
            deployment_id,
            [
                entry(
                    "event",
                    instance=instance_name,
                    event=self.name,
                    status=status,
                    error_code=self.error_code,
                    message=self.message,
                )
            ],
        )


class HostCommand(models.Model):
    """One lifecycle event delivered to one agent. Exactly one per agent-run event."""

    TRANSITIONS = COMMAND_TRANSITIONS

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="commands")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="commands")
    lifecycle_event = models.OneToOneField(LifecycleEvent, on_delete=models.CASCADE, related_name="command")
    status = models.CharField(max_length=16, choices=CommandStatus.choices, default=CommandStatus.ISSUED)
    payload = models.JSONField()
    timeout_seconds = models.PositiveIntegerField(default=3600)
    # The highest per-command log sequence stored, so resent log batches are ignored.
    log_seq = models.PositiveIntegerField(default=0)
    issued_at = models.DateTimeField(default=timezone.now)
    acked_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Handed out already started, in the answer to the completion of the host's previous event (the
    # agent asked for it with `start_next`): no separate ack. A resent completion hands it out again.
    started_on_delivery = models.BooleanField(default=False)

    class Meta:
        ordering = ["issued_at"]
        indexes = [
            # The long poll: open commands for one instance, oldest first.
            models.Index(fields=["instance", "status", "issued_at"], name="command_poll"),
            # The sweep: open commands by age.
            models.Index(fields=["status", "issued_at"], name="command_sweep"),
        ]

    def __str__(self) -> str:
        return f"{self.lifecycle_event_id} for {self.instance_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in COMMAND_OPEN

    def move_to(self, status: str, *, timeout_seconds: int | None = None) -> None:
        """Change status (COMMAND_TRANSITIONS) under the caller's lock of the deployment and the command.

        Written through `writebehind`, so a batch of agent calls writes its commands in one statement."""
        _check(f"Command {self.pk}", COMMAND_TRANSITIONS, self.status, status)
        self.status = status
        fields = ["status"]
        if status == CommandStatus.ACKED:
            self.acked_at = timezone.now()
            if timeout_seconds:
                self.timeout_seconds = timeout_seconds
            fields += ["acked_at", "timeout_seconds"]
        else:
            self.completed_at = timezone.now()
            fields.append("completed_at")
        writebehind.save(self, fields)
