"""Moving a running deployment: its next step (`advance`), a stop, and a blue/green "continue".

Each takes the deployment's row lock first (`steps.lock`) and may run twice, late or concurrently:
whatever runs second sees what the first one committed.
"""

from __future__ import annotations

from django.db import transaction

from ..models import (
    CommandStatus,
    Deployment,
    DeploymentStatus,
    ErrorCode,
    EventStatus,
    HostCommand,
    TargetStatus,
)
from . import bluegreen, dispatch, steps
from .strategies import strategy_for


def advance(deployment_id: str) -> None:
    """Take the next step: start hosts, or finish. Safe to run twice, late or concurrently."""
    with transaction.atomic():
        try:
            deployment = steps.lock(deployment_id)
        except Deployment.DoesNotExist:
            return
        if deployment.is_halting and deployment.status in (DeploymentStatus.READY, DeploymentStatus.BAKING):
            steps.finish(deployment)  # stopped while waiting: nothing is running
            return
        if deployment.status != DeploymentStatus.IN_PROGRESS:
            return
        if deployment.is_halting:
            # Whatever the strategy: start nothing more, end once the running hosts have.
            in_progress = steps.target_counts(deployment)[TargetStatus.IN_PROGRESS]
            steps.skip_pending(deployment)
            if in_progress == 0:
                steps.finish(deployment)
            return
        strategy_for(deployment).advance(deployment)


def request_stop(deployment_id: str, *, by: str = "a user", error_code: str = ErrorCode.MANUAL_STOP) -> bool:
    """Stop: pending hosts are skipped, unstarted commands cancelled, running events finish."""
    with transaction.atomic():
        deployment = steps.lock(deployment_id)
        if deployment.is_terminal:
            return False
        message = f"Stopped by {by}" if error_code == ErrorCode.MANUAL_STOP else by
        if deployment.status in (DeploymentStatus.CREATED, DeploymentStatus.QUEUED):
            deployment.move_to(DeploymentStatus.STOPPED, error_code=error_code, message=message)
            return True
        if not deployment.mark_halting(error_code, message):
            return True
        steps.skip_pending(deployment)
        unstarted = list(
            HostCommand.objects.select_for_update(of=("self",))
            .filter(deployment=deployment, status=CommandStatus.ISSUED)
            .select_related("lifecycle_event__target__instance")
        )
        for command in unstarted:
            command.move_to(CommandStatus.CANCELLED)
            event = command.lifecycle_event
            event.move_to(
                EventStatus.SKIPPED,
                instance_name=event.target.instance.name,
                deployment_id=deployment.id,
                message=f"Cancelled before the agent started it ({error_code})",
            )
            steps.skip_remaining(event.target)
            event.target.move_to(TargetStatus.UNKNOWN, message=f"Stopped before {event.name} ({error_code})")
        dispatch.advance(deployment.id)
        return True


def continue_deployment(deployment_id: str) -> bool:
    """A user's "reroute traffic now" for a blue/green deployment waiting in Ready."""
    with transaction.atomic():
        deployment = steps.lock(deployment_id)
        if deployment.status != DeploymentStatus.READY or deployment.is_halting:
            return False
        deployment.move_to(DeploymentStatus.IN_PROGRESS, message="Rerouting traffic on request")
        bluegreen.reroute(deployment)
        return True
