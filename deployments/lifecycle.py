"""Lifecycle event sequences, as CodeDeploy runs them."""

from __future__ import annotations

from .models.choices import Executor

INSTALL_EVENTS = (
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
)
BLOCK_EVENTS = ("BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic")
ALLOW_EVENTS = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")

# Fleetdeck's own step: the server checks each host's HTTP health endpoint after ApplicationStart.
HEALTH_CHECK = "HealthCheck"
# The load balancer steps and the health check are performed by the server and never reach an agent.
SERVER_EVENTS = frozenset({"BlockTraffic", "AllowTraffic", HEALTH_CHECK})
# These run the scripts of the host's last successful revision, not the one being deployed.
PREVIOUS_REVISION_EVENTS = frozenset({"ApplicationStop", "BeforeBlockTraffic", "AfterBlockTraffic"})
ALL_EVENTS = frozenset((*INSTALL_EVENTS, *BLOCK_EVENTS, *ALLOW_EVENTS, HEALTH_CHECK))


def in_place_events(with_traffic_control: bool, health_check: bool = False) -> tuple[str, ...]:
    events = INSTALL_EVENTS
    if health_check:
        at = events.index("ApplicationStart") + 1
        events = (*events[:at], HEALTH_CHECK, *events[at:])
    if with_traffic_control:
        return BLOCK_EVENTS + events + ALLOW_EVENTS
    return events


def executor_for(event_name: str) -> Executor:
    return Executor.SERVER if event_name in SERVER_EVENTS else Executor.AGENT
