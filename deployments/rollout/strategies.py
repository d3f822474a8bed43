"""Which strategy a deployment uses: chosen from the deployment itself, never handed in.

A new strategy implements `strategy.Strategy` in a module of its own and is chosen here.
"""

from __future__ import annotations

from ..models import Deployment, DeploymentStatus, DeploymentStyle
from .bluegreen import BlueGreen
from .inplace import InPlace
from .strategy import Strategy

IN_PLACE = InPlace()
BLUE_GREEN = BlueGreen()


def strategy_for(deployment: Deployment) -> Strategy:
    """A started deployment keeps the strategy it started with (a blue/green one has a phase); one not
    started yet takes its group's deployment style."""
    if deployment.phase:
        return BLUE_GREEN
    not_started = deployment.status in (DeploymentStatus.CREATED, DeploymentStatus.QUEUED)
    if not_started and deployment.deployment_group.deployment_style == DeploymentStyle.BLUE_GREEN:
        return BLUE_GREEN
    return IN_PLACE
