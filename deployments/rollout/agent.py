"""The agent fast path: what the agent API calls when hosts ack, log and complete their events.

Many agents' calls on one deployment run together (`agent_calls`): one transaction, one deployment
lock, one event-log write and one commit for the lot. A completion issues the host's next event at
once, already started when the agent asks for it (`start_next`), so a host needs no task round trip
and no ack between its events.

Warning: the hot path of a large rollout; keep its queries per call constant
(tests/deployments/test_query_budget.py).
"""

from __future__ import annotations

from django.db import transaction

from .. import eventlog, writebehind
from ..models import (
    CommandStatus,
    Deployment,
    EntryKind,
    ErrorCode,
    EventStatus,
    HostCommand,
    Instance,
    LifecycleEvent,
)
from . import dispatch, results, steps


def command_deployment(command_id, instance: Instance | None) -> str | None:
    """The deployment a command belongs to (None if it is not this instance's). Takes no lock."""
    query = HostCommand.objects.filter(pk=command_id)
    if instance is not None:
        query = query.filter(instance=instance)
    return query.values_list("deployment_id", flat=True).first()


def _locked_commands(
    deployment: Deployment, command_ids, instances: dict[int, Instance] | None = None
) -> dict[str, HostCommand]:
    """Lock commands of a locked deployment, in one query and in primary-key order; keyed by str(id).

    With `instances` (by id; the callers', already loaded) their commands' targets get those objects
    instead of a join that builds each instance again; any other command's instance loads on use."""
    related = "lifecycle_event__target" if instances is not None else "lifecycle_event__target__instance"
    commands = (
        HostCommand.objects.select_for_update(of=("self",))
        .select_related(related)
        .filter(pk__in=set(command_ids), deployment_id=deployment.id)
        .order_by("pk")
    )
    out = {str(command.pk): command for command in commands}
    for command in out.values() if instances is not None else ():
        if command.instance_id in instances:
            command.lifecycle_event.target.instance = instances[command.instance_id]
    return out


# --- the three calls; each runs under the deployment's and its command's lock ----------------------


def _ack(deployment: Deployment, command: HostCommand, instance: Instance, timeout_seconds) -> HostCommand:
    if command.status != CommandStatus.ISSUED:
        return command
    command.move_to(CommandStatus.ACKED, timeout_seconds=timeout_seconds)
    event = command.lifecycle_event
    if event.status == EventStatus.PENDING:
        event.move_to(EventStatus.IN_PROGRESS, instance_name=instance.name, deployment_id=deployment.id)
    return command


def _logs(deployment: Deployment, command: HostCommand, instance: Instance, lines: list[dict]) -> int:
    return _store_lines(deployment, command, instance.name, lines)


def _store_lines(deployment: Deployment, command: HostCommand, instance_name: str, lines: list[dict]) -> int:
    """Store hook output; lines whose seq was stored already are ignored, so resends are harmless."""
    unique = {ln["seq"]: ln for ln in lines if ln["seq"] > command.log_seq}
    fresh = [unique[seq] for seq in sorted(unique)]
    if not fresh:
        return 0
    event = command.lifecycle_event
    eventlog.append(
        deployment.id,
        [
            eventlog.entry(
                EntryKind.LOG,
                instance=instance_name,
                event=event.name,
                message=ln["text"],
                stream=ln.get("stream", "stdout"),
                script=ln.get("script", ""),
                ts=ln.get("ts", ""),
            )
            for ln in fresh
        ],
    )
    command.log_seq = fresh[-1]["seq"]
    writebehind.save(command, ["log_seq"])
    return len(fresh)


def _complete(
    deployment: Deployment,
    command: HostCommand,
    instance: Instance | None,
    status: str,
    diagnostics: dict,
    started_at=None,
    ended_at=None,
    lines: list[dict] | None = None,
    start_next: dict | None = None,
) -> HostCommand:
    """Record an event's result and move its host on. Completing twice is harmless: the first wins.

    `start_next` (the agent's hook timeouts by event name) asks for the host's next event to be
    handed out already started; it is then `command.started_next`."""
    command.started_next = None
    if not command.is_open:
        if start_next is not None:
            # A resent completion (its answer was lost): hand out again what the first one started.
            writebehind.flush()
            command.started_next = HostCommand.objects.filter(
                lifecycle_event__target_id=command.lifecycle_event.target_id,
                status=CommandStatus.ACKED,
                started_on_delivery=True,
            ).first()
        return command
    if lines:
        # The hook's last lines, sent with the completion so they precede the result in the log.
        _store_lines(deployment, command, command.lifecycle_event.target.instance.name, lines)
    command.move_to(CommandStatus.COMPLETED)
    start = {command.instance_id: start_next} if start_next is not None else None
    command.started_next = results.record_result(
        deployment, command.lifecycle_event, status, diagnostics, started_at, ended_at, start
    )
    return command


AGENT_CALLS = {"ack": _ack, "log": _logs, "complete": _complete}


def _events_by_target(
    commands: dict[str, HostCommand], calls: list[tuple]
) -> dict[int, list[LifecycleEvent]]:
    """Every completing host's lifecycle events in one query, for `results.after_event`. The events the
    calls work on are the commands' own objects, so the list shows what the batch changed in memory."""
    completing = {
        str(command_id): commands[str(command_id)]
        for op, command_id, _, _ in calls
        if op == "complete" and str(command_id) in commands
    }
    if not completing:
        return {}
    own = {c.lifecycle_event_id: c.lifecycle_event for c in completing.values()}
    by_target: dict[int, list[LifecycleEvent]] = {}
    for event in LifecycleEvent.objects.filter(
        target_id__in={c.lifecycle_event.target_id for c in completing.values()}
    ).order_by("target_id", "position"):
        by_target.setdefault(event.target_id, []).append(own.get(event.pk, event))
    return by_target


def _run_calls(deployment_id: str, calls: list[tuple]) -> list:
    with eventlog.batched(deployment_id), writebehind.held():
        try:
            deployment = steps.lock(deployment_id)
        except Deployment.DoesNotExist:
            return [None] * len(calls)
        callers = {instance.pk: instance for _, _, instance, _ in calls if instance is not None}
        # The sweep (no caller instance) has no instances loaded: join them.
        commands = _locked_commands(
            deployment, [command_id for _, command_id, _, _ in calls], callers or None
        )
        out = []
        with results.prefetched(_events_by_target(commands, calls)):
            for op, command_id, instance, args in calls:
                command = commands.get(str(command_id))
                if command is None or (instance is not None and command.instance_id != instance.pk):
                    out.append(None)
                else:
                    out.append(AGENT_CALLS[op](deployment, command, instance, *args))
        return out


def agent_calls(deployment_id: str, calls: list[tuple]) -> list:
    """Run many agents' calls on one deployment together: one transaction, one deployment lock, one
    event-log write and one commit for the lot, instead of one each (the lock serialises them anyway).

    Each call is `(op, command_id, instance, args)` with op one of AGENT_CALLS ("ack": `(timeout,)`,
    "log": `(lines,)`, "complete": `(status, diagnostics, started_at, ended_at, lines, start_next)`,
    the last four optional); `instance` None is the server itself (the sweep). Each result is the
    command (ack, complete; None if it is not that instance's) or the number of lines stored (log),
    in order. The calls are applied one after another under the lock, exactly as separate
    transactions would be. If the batch fails, each call is retried in a transaction of its own, so
    one bad call cannot fail the others; its result is then the exception it raised.
    """
    try:
        with transaction.atomic(), dispatch.one_advance_each():
            return _run_calls(deployment_id, calls)
    except Exception:
        if len(calls) == 1:
            raise
    out = []
    for call in calls:
        try:
            out.append(agent_calls(deployment_id, [call])[0])
        except Exception as exc:  # handed to that call's caller
            out.append(exc)
    return out


def agent_call(op: str, command_id, instance: Instance | None, *args):
    """One call on its own, through `agent_calls`: None if the command is not this instance's."""
    deployment_id = command_deployment(command_id, instance)
    if deployment_id is None:
        return None
    return agent_calls(deployment_id, [(op, command_id, instance, args)])[0]


def revision_missing(deployment_id: str, message: str) -> bool:
    """An agent found the bundle gone from storage mid-rollout: halt with REVISION_MISSING, so the
    deployment ends with the code that says why instead of HEALTH_CONSTRAINTS (the first reason wins)."""
    with transaction.atomic():
        deployment = steps.lock(deployment_id)
        if deployment.status not in steps.RUNNING or not deployment.mark_halting(
            ErrorCode.REVISION_MISSING, message
        ):
            return False
        dispatch.advance(deployment.id)
        return True
