"""The interface every deployment strategy implements; `strategies.strategy_for` picks one.

A strategy decides what a deployment's hosts do and in which order. It is built from `steps` and
holds no state: the deployment's rows are the state, and every method runs under its row lock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from ..models import Deployment, DeploymentTarget, Instance, LifecycleEvent


class Strategy(ABC):
    @abstractmethod
    def start(self, deployment: Deployment, instances: list[Instance]) -> None:
        """Snapshot the targets from the group's matching hosts, plan them and go InProgress (or fail
        with the reason). The caller holds the group's lock."""

    @abstractmethod
    def advance(self, deployment: Deployment) -> None:
        """The next step of a deployment InProgress that is not halting: start hosts, or finish."""

    def holds_before(self, deployment: Deployment, target: DeploymentTarget, nxt: LifecycleEvent) -> bool:
        """Whether a host whose event just succeeded waits for the rest of the fleet before `nxt`
        (the strategy then moves it on from `advance`)."""
        return False

    def installs(self, target: DeploymentTarget) -> bool:
        """Whether the host's success records the deployment's revision as installed on it."""
        return True

    def end_wait(self, deployment: Deployment, now: datetime) -> bool:
        """A deployment Ready or Baking whose wait ran out (`wait_until`): move on; True if it did."""
        return False
