"""Creating deployments: a user's, a rollback (`roll_back`) and a new host's (`update_new_instance`);
starting them, or queueing them behind the group's running one (`start_next_queued`)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from .. import eventlog, healthcheck, retention
from ..models import (
    ONE_AT_A_TIME,
    Creator,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    DeploymentStatus,
    EntryKind,
    ErrorCode,
    Instance,
    InstanceGroupState,
    OutdatedInstancesStrategy,
    Revision,
)
from . import fetching, planning, rollback, steps
from .strategies import strategy_for


class DeploymentError(Exception):
    """A request the engine refuses, with a message meant for the user."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None):
        super().__init__(message)
        self.message, self.code, self.field = message, code, field


def create_deployment(
    *,
    group: DeploymentGroup,
    revision: Revision,
    config: DeploymentConfig | None = None,
    creator: str = Creator.USER,
    user=None,
    description: str = "",
    file_exists_behavior: str | None = None,
    ignore_application_stop_failures: bool | None = None,
    rollback_of: Deployment | None = None,
    auto_rollback_events: list[str] | None = None,
    instance_ids: list[int] | None = None,
) -> Deployment:
    if revision.application_id != group.application_id:
        raise DeploymentError(
            f"Revision {revision.pk} belongs to another application.",
            code="REVISION_MISSING",
            field="revision",
        )
    if config is not None and not config.builtin and config.project_id != group.application.project_id:
        # A custom config is its project's own; the API never offers another's, and nor does this.
        raise DeploymentError(
            f"No deployment config named {config.name} in this project.", field="deployment_config"
        )
    with transaction.atomic():
        # The group lock makes "is another deployment running here?" and the start one decision.
        group = DeploymentGroup.objects.select_for_update().select_related("application").get(pk=group.pk)
        # The revision's lock orders this against retention pruning its bundle (retention.prune_bundle):
        # either the bundle is already gone and we refuse, or the cleanup sees this deployment and keeps it.
        revision = Revision.objects.select_for_update(no_key=True).get(pk=revision.pk)
        if revision.bundle_pruned_at is not None:
            raise DeploymentError(
                retention.bundle_problem(revision), code=ErrorCode.REVISION_MISSING, field="revision"
            )
        config = config or group.deployment_config
        deployment = Deployment.objects.create(
            application=group.application,
            deployment_group=group,
            revision=revision,
            deployment_config=config,
            creator=creator,
            created_by=user if user is not None and user.is_authenticated else None,
            description=description,
            file_exists_behavior=file_exists_behavior or group.file_exists_behavior,
            ignore_application_stop_failures=(
                group.ignore_application_stop_failures
                if ignore_application_stop_failures is None
                else ignore_application_stop_failures
            ),
            rollback_of=rollback_of,
            auto_rollback_events=auto_rollback_events,
            instance_ids=instance_ids,
        )
        eventlog.append(
            deployment.id,
            [
                eventlog.entry(
                    EntryKind.DEPLOYMENT,
                    status=DeploymentStatus.CREATED,
                    message=f"Created by {user.get_username() if user else creator}",
                    revision=revision.pk,
                    config=config.name,
                )
            ],
        )
        blocker = (
            Deployment.objects.filter(
                deployment_group=group, status__in=(*steps.RUNNING, DeploymentStatus.QUEUED)
            )
            .exclude(pk=deployment.pk)
            .order_by("created_at")
            .first()
        )
        if blocker is not None:
            deployment.move_to(
                DeploymentStatus.QUEUED,
                message=f"Waiting for {blocker.id} to finish in this deployment group",
            )
        else:
            start(deployment)
    return deployment


def start(deployment: Deployment) -> None:
    """Snapshot the targets, plan them and go InProgress (the strategy's part). Caller holds the group lock."""
    group = deployment.deployment_group
    missing = retention.bundle_problem(deployment.revision)
    if missing:
        # Every host would fail DownloadBundle: fail now, touching no host, with the code that says why.
        deployment.move_to(DeploymentStatus.FAILED, error_code=ErrorCode.REVISION_MISSING, message=missing)
        steps.start_next_queued_after_commit(group.pk)
        return
    unusable = healthcheck.group_problem(group)
    if unusable:  # a health check saved before its host had to be {hostname}: it could never pass
        deployment.move_to(
            DeploymentStatus.FAILED, error_code=ErrorCode.HEALTH_CONSTRAINTS_INVALID, message=unusable
        )
        steps.start_next_queued_after_commit(group.pk)
        return
    if not fetching.ready_to_start(deployment):
        return  # failed (bundle over the size limit), or queued until the server holds its revision
    strategy_for(deployment).start(deployment, planning.matching_instances(group))


def start_next_queued(group_id: int) -> str | None:
    with transaction.atomic():
        group = DeploymentGroup.objects.select_for_update().filter(pk=group_id).first()
        if (
            group is None
            or Deployment.objects.filter(deployment_group=group, status__in=steps.RUNNING).exists()
        ):
            return None
        nxt = (
            Deployment.objects.select_for_update()
            .filter(deployment_group=group, status=DeploymentStatus.QUEUED)
            .order_by("created_at")
            .first()
        )
        if nxt is None:
            return None
        start(nxt)
        return nxt.id


def roll_back(deployment_id: str) -> str | None:
    """The rollback task: deploy the group's last successful revision again (see `rollback`)."""
    failed = Deployment.objects.select_related("deployment_group").filter(pk=deployment_id).first()
    if failed is None or Deployment.objects.filter(rollback_of=failed).exists():
        return None
    previous = rollback.last_successful(failed.deployment_group, exclude=failed)
    if previous is None:
        with transaction.atomic():
            eventlog.append(
                failed.id,
                [
                    eventlog.entry(
                        EntryKind.ROLLBACK,
                        message="No earlier successful revision in this group to roll back to",
                    )
                ],
            )
        return None
    try:
        created = create_deployment(
            group=failed.deployment_group,
            revision=previous.revision,
            config=failed.deployment_config,
            creator=Creator.ROLLBACK,
            description=f"Automatic rollback of {failed.id} ({rollback.rollback_reason(failed)})",
            rollback_of=failed,
            auto_rollback_events=[],
        )
    except IntegrityError:
        return None  # another worker rolled it back first
    with transaction.atomic():
        eventlog.append(
            failed.id,
            [
                eventlog.entry(
                    EntryKind.ROLLBACK,
                    status=DeploymentStatus.CREATED,
                    message=f"Rolling back to {previous.revision.display_name} with {created.id}",
                    rollback=created.id,
                )
            ],
        )
    return created.id


def update_new_instance(instance_id: int) -> list[str]:
    """A host that joins a group gets the group's last successful revision (creator: autoscaling).

    If the group is busy the deployment queues behind the running one, so a host that joined during
    a rollout gets a follow-up deployment; with the IGNORE strategy it gets nothing.
    """
    instance = Instance.objects.filter(pk=instance_id, deregistered_at__isnull=True).first()
    if instance is None:
        return []
    created = []
    groups = DeploymentGroup.objects.filter(application__project_id=instance.project_id).select_related(
        "application"
    )
    known = set(InstanceGroupState.objects.filter(instance=instance).values_list("group_id", flat=True))
    config = DeploymentConfig.objects.get(name=ONE_AT_A_TIME)
    for group in groups:
        if group.pk in known or group.outdated_instances_strategy != OutdatedInstancesStrategy.UPDATE:
            continue
        if not group.matches(instance.tags or {}):
            continue
        previous = rollback.last_successful(group)
        if previous is None:
            continue
        deployment = create_deployment(
            group=group,
            revision=previous.revision,
            config=config,
            creator=Creator.AUTOSCALING,
            description=f"{instance.name} joined the group: installing {previous.revision.display_name}",
            instance_ids=[instance.pk],
        )
        created.append(deployment.id)
    return created
