"""Statuses, error codes and names as CodeDeploy spells them, with their groups."""

from __future__ import annotations

from django.db import models


class DeploymentStatus(models.TextChoices):
    CREATED = "Created"
    QUEUED = "Queued"
    IN_PROGRESS = "InProgress"
    BAKING = "Baking"
    READY = "Ready"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"


DEPLOYMENT_TERMINAL = frozenset(
    {DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.STOPPED}
)
# Which moves the deployment state machine allows.
DEPLOYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    DeploymentStatus.CREATED: frozenset(
        {
            DeploymentStatus.QUEUED,
            DeploymentStatus.IN_PROGRESS,
            DeploymentStatus.FAILED,
            DeploymentStatus.STOPPED,
        }
    ),
    DeploymentStatus.QUEUED: frozenset(
        {DeploymentStatus.IN_PROGRESS, DeploymentStatus.FAILED, DeploymentStatus.STOPPED}
    ),
    DeploymentStatus.IN_PROGRESS: frozenset(
        {
            DeploymentStatus.READY,
            DeploymentStatus.BAKING,
            DeploymentStatus.SUCCEEDED,
            DeploymentStatus.FAILED,
            DeploymentStatus.STOPPED,
        }
    ),
    DeploymentStatus.READY: frozenset(
        {DeploymentStatus.IN_PROGRESS, DeploymentStatus.FAILED, DeploymentStatus.STOPPED}
    ),
    DeploymentStatus.BAKING: frozenset(
        {DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.STOPPED}
    ),
    DeploymentStatus.SUCCEEDED: frozenset(),
    DeploymentStatus.FAILED: frozenset(),
    DeploymentStatus.STOPPED: frozenset(),
}


class TargetStatus(models.TextChoices):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    UNKNOWN = "Unknown"
    READY = "Ready"


TARGET_TRANSITIONS: dict[str, frozenset[str]] = {
    TargetStatus.PENDING: frozenset({TargetStatus.IN_PROGRESS, TargetStatus.SKIPPED}),
    TargetStatus.IN_PROGRESS: frozenset(
        {TargetStatus.SUCCEEDED, TargetStatus.FAILED, TargetStatus.UNKNOWN, TargetStatus.READY}
    ),
    TargetStatus.READY: frozenset({TargetStatus.IN_PROGRESS, TargetStatus.SUCCEEDED, TargetStatus.FAILED}),
    TargetStatus.SUCCEEDED: frozenset(),
    TargetStatus.FAILED: frozenset(),
    TargetStatus.SKIPPED: frozenset(),
    TargetStatus.UNKNOWN: frozenset(),
}


class EventStatus(models.TextChoices):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    UNKNOWN = "Unknown"


EVENT_TRANSITIONS: dict[str, frozenset[str]] = {
    EventStatus.PENDING: frozenset(
        {EventStatus.IN_PROGRESS, EventStatus.SKIPPED, EventStatus.FAILED, EventStatus.SUCCEEDED}
    ),
    EventStatus.IN_PROGRESS: frozenset(
        {EventStatus.SUCCEEDED, EventStatus.FAILED, EventStatus.SKIPPED, EventStatus.UNKNOWN}
    ),
    EventStatus.SUCCEEDED: frozenset(),
    EventStatus.FAILED: frozenset(),
    EventStatus.SKIPPED: frozenset(),
    EventStatus.UNKNOWN: frozenset(),
}


class ErrorCode(models.TextChoices):
    AGENT_ISSUE = "AGENT_ISSUE"
    ALARM_ACTIVE = "ALARM_ACTIVE"
    HEALTH_CONSTRAINTS = "HEALTH_CONSTRAINTS"
    HEALTH_CONSTRAINTS_INVALID = "HEALTH_CONSTRAINTS_INVALID"
    INVALID_REVISION = "INVALID_REVISION"
    REVISION_MISSING = "REVISION_MISSING"
    NO_INSTANCES = "NO_INSTANCES"
    MANUAL_STOP = "MANUAL_STOP"
    TIMEOUT = "TIMEOUT"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    ELB_INVALID_INSTANCE = "ELB_INVALID_INSTANCE"
    ELASTIC_LOAD_BALANCING_INVALID = "ELASTIC_LOAD_BALANCING_INVALID"


class ScriptErrorCode(models.TextChoices):
    SUCCESS = "Success"
    SCRIPT_MISSING = "ScriptMissing"
    SCRIPT_NOT_EXECUTABLE = "ScriptNotExecutable"
    SCRIPT_TIMED_OUT = "ScriptTimedOut"
    SCRIPT_FAILED = "ScriptFailed"
    UNKNOWN_ERROR = "UnknownError"
    # Fleetdeck's own: the server failed the event because the agent went silent.
    AGENT_ISSUE = "AGENT_ISSUE"


class Creator(models.TextChoices):
    USER = "user"
    AUTOSCALING = "autoscaling"
    ROLLBACK = "codeDeployRollback"
    AUTO_UPDATE = "CodeDeployAutoUpdate"


class FileExistsBehavior(models.TextChoices):
    DISALLOW = "DISALLOW"
    OVERWRITE = "OVERWRITE"
    RETAIN = "RETAIN"


class DeploymentStyle(models.TextChoices):
    IN_PLACE = "IN_PLACE"
    BLUE_GREEN = "BLUE_GREEN"


class DeploymentOption(models.TextChoices):
    WITHOUT_TRAFFIC_CONTROL = "WITHOUT_TRAFFIC_CONTROL"
    WITH_TRAFFIC_CONTROL = "WITH_TRAFFIC_CONTROL"


class MinimumHealthyType(models.TextChoices):
    HOST_COUNT = "HOST_COUNT"
    FLEET_PERCENT = "FLEET_PERCENT"


class TagFilterType(models.TextChoices):
    KEY_ONLY = "KEY_ONLY"
    VALUE_ONLY = "VALUE_ONLY"
    KEY_AND_VALUE = "KEY_AND_VALUE"


class BundleType(models.TextChoices):
    ZIP = "zip"
    TAR = "tar"
    TGZ = "tgz"


class RevisionSource(models.TextChoices):
    UPLOAD = "fleetdeck"
    S3 = "s3"
    GITHUB = "github"


class CommandStatus(models.TextChoices):
    ISSUED = "Issued"
    ACKED = "Acked"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


COMMAND_OPEN = frozenset({CommandStatus.ISSUED, CommandStatus.ACKED})
# Which moves a host command allows. A command handed out already started (in the answer to the
# host's previous completion) is created Acked; a completion may come without an ack (older agents,
# the sweep); only a command no agent has started yet is cancelled by a stop.
COMMAND_TRANSITIONS: dict[str, frozenset[str]] = {
    CommandStatus.ISSUED: frozenset({CommandStatus.ACKED, CommandStatus.COMPLETED, CommandStatus.CANCELLED}),
    CommandStatus.ACKED: frozenset({CommandStatus.COMPLETED}),
    CommandStatus.COMPLETED: frozenset(),
    CommandStatus.CANCELLED: frozenset(),
}


class Phase(models.TextChoices):
    """A blue/green deployment's phase (`Deployment.phase`); blank for an in-place deployment."""

    NONE = "", "In place"
    PROVISION = "provision", "Provisioning replacements"
    INSTALL = "install", "Installing on replacements"
    REROUTE = "reroute", "Rerouting traffic"
    BLOCK = "block", "Blocking traffic to originals"
    BAKE = "bake", "Waiting to retire originals"


# Which phase changes a blue/green deployment allows. A rollback of a blue/green deployment starts in
# reroute (traffic back to the originals); an Auto Scaling copy starts in provision.
PHASE_TRANSITIONS: dict[str, frozenset[str]] = {
    Phase.NONE: frozenset({Phase.PROVISION, Phase.INSTALL, Phase.REROUTE}),
    Phase.PROVISION: frozenset({Phase.INSTALL}),
    Phase.INSTALL: frozenset({Phase.REROUTE}),
    Phase.REROUTE: frozenset({Phase.BLOCK}),
    Phase.BLOCK: frozenset({Phase.BAKE}),
    Phase.BAKE: frozenset(),
}
# Phases after which some traffic may be on the replacements: a rollback must move it back.
TRAFFIC_MOVED = frozenset({Phase.REROUTE, Phase.BLOCK, Phase.BAKE})


class Role(models.TextChoices):
    """A blue/green target's role (`DeploymentTarget.role`); blank for an in-place target."""

    NONE = "", "In place"
    REPLACEMENT = "replacement", "Replacement"
    ORIGINAL = "original", "Original"


class Executor(models.TextChoices):
    """Who runs a lifecycle event: the host's agent, or the server (traffic shifts, health checks)."""

    AGENT = "agent", "Agent"
    SERVER = "server", "Server"


class EntryKind(models.TextChoices):
    """What a row of a deployment's event log records (`DeploymentEvent.kind`)."""

    DEPLOYMENT = "deployment"
    HALTING = "halting"
    TARGET = "target"
    EVENT = "event"
    LOG = "log"
    ROLLBACK = "rollback"


class StepOutcome(models.TextChoices):
    """How the planner's next step ends a fleet's rollout: not yet, succeeded or failed."""

    NONE = "", "Not yet"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class OutdatedInstancesStrategy(models.TextChoices):
    UPDATE = "UPDATE"
    IGNORE = "IGNORE"
