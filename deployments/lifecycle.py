"""Lifecycle event sequences, as CodeDeploy runs them."""

from __future__ import annotations

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

# The load balancer steps are performed by the server itself and never reach an agent.
SERVER_EVENTS = frozenset({"BlockTraffic", "AllowTraffic"})
# These run the scripts of the host's last successful revision, not the one being deployed.
PREVIOUS_REVISION_EVENTS = frozenset({"ApplicationStop", "BeforeBlockTraffic", "AfterBlockTraffic"})
ALL_EVENTS = frozenset(INSTALL_EVENTS + BLOCK_EVENTS + ALLOW_EVENTS)


def in_place_events(with_traffic_control: bool) -> tuple[str, ...]:
    if with_traffic_control:
        return BLOCK_EVENTS + INSTALL_EVENTS + ALLOW_EVENTS
    return INSTALL_EVENTS


def executor_for(event_name: str) -> str:
    return "server" if event_name in SERVER_EVENTS else "agent"
