"""The rollout core's public functions for callers outside it (API, pages, integrations, the demo).

A facade only: the code lives in `deployments/rollout/` (docs/architecture.md, "The rollout core").
"""

from __future__ import annotations

from .rollout.agent import agent_call, agent_calls, revision_missing
from .rollout.control import advance, continue_deployment, request_stop
from .rollout.creation import DeploymentError, create_deployment, start_next_queued
from .rollout.planning import deployment_plan, matching_instances, preview_plan
from .rollout.sweep import re_advance_stalled, sweep

# What an agent reports as the failure of the event it was running when it restarted.
RESTART_MESSAGE = "Failing in-progress lifecycle event after an agent restart"


# One agent's call on its own, through the agents' own path (`agent_calls`, as the agent API runs it):
# for tools and tests that act as one agent. None when the command is not that instance's.
def ack_command(command_id, instance, timeout_seconds: int | None):
    return agent_call("ack", command_id, instance, timeout_seconds)


def record_logs(command_id, instance, lines: list[dict]) -> int | None:
    return agent_call("log", command_id, instance, lines)


def complete_command(
    command_id, instance, status: str, diagnostics: dict, started_at=None, ended_at=None, lines=None
):
    return agent_call("complete", command_id, instance, status, diagnostics, started_at, ended_at, lines)


__all__ = [
    "RESTART_MESSAGE",
    "DeploymentError",
    "ack_command",
    "advance",
    "agent_calls",
    "complete_command",
    "continue_deployment",
    "create_deployment",
    "deployment_plan",
    "matching_instances",
    "preview_plan",
    "re_advance_stalled",
    "record_logs",
    "request_stop",
    "revision_missing",
    "start_next_queued",
    "sweep",
]
