"""Blue/green replacements that are an Auto Scaling group's copy: create it, wait for its agents.

The slow AWS calls run in a worker outside any transaction (`start_provisioning`); the sweep asks
`check_provisioning` until every instance of the copy has a registered agent, and then the copy is
planned as the replacement fleet (`provisioned`).
"""

from __future__ import annotations

from django.db import transaction

from .. import provisioning
from ..models import Deployment, ErrorCode, Instance, Phase
from . import bluegreen, bluegreen_config, steps


def _waiting(deployment_id: str) -> Deployment | None:
    deployment = (
        Deployment.objects.select_related("deployment_group__application").filter(pk=deployment_id).first()
    )
    if deployment is None or deployment.phase != Phase.PROVISION or deployment.is_terminal:
        return None
    return deployment


def start_provisioning(deployment_id: str) -> None:
    """Create the copy. Runs in a worker, outside any transaction."""
    deployment = _waiting(deployment_id)
    if deployment is None:
        return
    try:
        provisioning.create_copy(
            deployment, bluegreen_config.config_of(deployment.deployment_group)["replacement"]
        )
    except Exception as exc:  # any AWS failure ends the deployment, with its message
        fail_provisioning(deployment_id, f"Could not copy the Auto Scaling group: {exc}")


def check_provisioning(deployment_id: str) -> None:
    """Called by the sweep: once every instance of the copy has a registered agent, go on."""
    deployment = _waiting(deployment_id)
    if deployment is None:
        return
    cfg = bluegreen_config.config_of(deployment.deployment_group)["replacement"]
    try:
        found, desired = provisioning.registered_replacements(deployment, cfg)
    except Exception as exc:  # reported when the wait times out
        found, desired = [], -2
        problem = str(exc)
    else:
        problem = f"{len(found)} of {desired} instances of {provisioning.copy_name(deployment)} have a registered agent"
    if desired >= 0 and len(found) >= max(desired, 1):
        provisioned(deployment_id, found)
    elif provisioning.timed_out(deployment, cfg):
        fail_provisioning(deployment_id, f"Replacement instances did not come up in time: {problem}")


def provisioned(deployment_id: str, replacements: list[Instance]) -> bool:
    """The copy's agents have registered: plan them as the replacement fleet and start installing."""
    with transaction.atomic():
        deployment = steps.lock(deployment_id)
        if deployment.phase != Phase.PROVISION or deployment.is_terminal:
            return False
        originals = [t.instance for t in deployment.targets.select_related("instance")]
        deployment.targets.all().delete()
        bluegreen.plan_replacements(deployment, replacements, originals)
        return True


def fail_provisioning(deployment_id: str, message: str) -> None:
    with transaction.atomic():
        deployment = steps.lock(deployment_id)
        if deployment.phase == Phase.PROVISION and not deployment.is_terminal:
            deployment.mark_halting(ErrorCode.INTERNAL_ERROR, message)
            steps.skip_pending(deployment)
            steps.finish(deployment)
