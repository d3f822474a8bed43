"""One agent's calls, made as the agent API makes them in production: the command's deployment is
looked up, then the call runs as a batch of `rollout.agent.agent_calls` (deployments/agent_api's
`_run_batch`), so the engine tests drive the path production takes.

`run_host` runs a host's commands as today's agent does: it acks the first command it polls and
completes each event with `start_next`, taking the next one, already started, from the answer.
"""

from __future__ import annotations

from deployments.models import CommandStatus, HostCommand, Instance
from deployments.rollout.agent import agent_calls, command_deployment


def call(op: str, command_id, instance: Instance | None, *args):
    deployment_id = command_deployment(command_id, instance)
    if deployment_id is None:
        return None
    (result,) = agent_calls(deployment_id, [(op, command_id, instance, args)])
    return result


def ack(command_id, instance: Instance, timeout_seconds: int | None) -> HostCommand | None:
    return call("ack", command_id, instance, timeout_seconds)


def record_logs(command_id, instance: Instance, lines: list[dict]) -> int | None:
    return call("log", command_id, instance, lines)


def complete(
    command_id,
    instance: Instance,
    status: str,
    diagnostics: dict,
    started_at=None,
    ended_at=None,
    lines: list[dict] | None = None,
    start_next: dict | None = None,
) -> HostCommand | None:
    return call(
        "complete", command_id, instance, status, diagnostics, started_at, ended_at, lines, start_next
    )


def run_host(instance: Instance, *, timeouts: dict | None = None) -> list[tuple[str, bool]]:
    """Run every command the host is given until it has none: (event name, handed out started)."""
    ran = []
    while polled := list(
        HostCommand.objects.filter(instance=instance, status=CommandStatus.ISSUED).order_by("issued_at")
    ):
        command = ack(polled[0].pk, instance, 60)
        started = False
        while command is not None:
            ran.append((command.lifecycle_event.name, started))
            done = complete(command.pk, instance, "Succeeded", {}, start_next=timeouts or {})
            command, started = done.started_next, True
    return ran
