"""The long poll: what a host's poll finds, and the wait until something is issued for it.

An idle fleet is mostly polls, so a poll's first look is one hand-written statement (authenticate,
record the heartbeat, ask whether anything waits), and the wait costs a coroutine and a `Watch` on the
process's one Redis subscription (`realtime.subscriber`), not a thread or a query per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from deployments import asyncdb, realtime
from deployments.models import CommandStatus, HostCommand, Instance

from .credentials import Unauthorized
from .revision_links import add_download_links

MAX_COMMANDS = 20  # handed to one host per answer


@functools.cache
def _first_look_sql(vendor: str) -> str:
    """The instance with this credential, and whether any command waits for it. Written out once: it
    is the query of every poll, and compiling the ORM's version of it cost more CPU than running it.
    Its WHERE clause is `Instance.holding`'s.

    On PostgreSQL it is an UPDATE … RETURNING that also records the heartbeat, so an idle host's poll
    is one statement (params: now, credential hash, status). Elsewhere a SELECT (params: status,
    credential hash) and the heartbeat follows."""
    qn = connection.ops.quote_name
    instance, command = Instance._meta, HostCommand._meta
    columns = ", ".join(f"i.{qn(field.column)}" for field in instance.concrete_fields)
    waiting = (
        f"EXISTS (SELECT 1 FROM {qn(command.db_table)} c "  # noqa: S608 - names from the models
        f"WHERE c.{qn(command.get_field('instance').column)} = i.{qn(instance.pk.column)} "
        f"AND c.{qn(command.get_field('status').column)} = %s) AS has_commands"
    )
    mine = (
        f"i.{qn(instance.get_field('credential_hash').column)} = %s "
        f"AND i.{qn(instance.get_field('deregistered_at').column)} IS NULL"
    )
    if vendor == "postgresql":
        return (
            f"UPDATE {qn(instance.db_table)} AS i SET {qn(instance.get_field('last_seen').column)} = %s, "  # noqa: S608
            f"{qn(instance.get_field('online').column)} = true WHERE {mine} RETURNING {columns}, {waiting}"
        )
    return f"SELECT {columns}, {waiting} FROM {qn(instance.db_table)} i WHERE {mine}"  # noqa: S608


def first_look(credential: str, reported: dict[str, str]) -> tuple[Instance, list[dict]]:
    """A poll's first look: authenticate, record the heartbeat and find the host's commands. One
    statement finds the instance and whether it has any command at all (and, on PostgreSQL, records
    the heartbeat), so an idle host's poll costs one statement."""
    if connection.vendor == "postgresql":
        params = [timezone.now(), credential, CommandStatus.ISSUED]
    else:
        params = [CommandStatus.ISSUED, credential]
    found = list(Instance.objects.raw(_first_look_sql(connection.vendor), params))
    instance = found[0] if found else None
    if instance is None:
        raise Unauthorized()
    instance.seen()
    # What the agent says of itself (its version, its EC2 instance id) and the address it polls from,
    # written only when it changed.
    changed = {
        field: value for field, value in reported.items() if value and value != getattr(instance, field)
    }
    if changed:
        Instance.objects.filter(pk=instance.pk).update(**changed)
        for field, value in changed.items():
            setattr(instance, field, value)
    return instance, (open_commands(instance.pk) if instance.has_commands else [])


def open_commands(instance_id: int) -> list[dict]:
    return open_commands_for([instance_id]).get(instance_id, [])


def open_commands_for(instance_ids: list[int], started=()) -> dict[int, list[dict]]:
    """What a poll would hand each of these instances now: up to 20 issued commands, oldest first.

    `started` are commands issued already started for these instances (see `engine._issue`): they
    come first, marked `"started": true`, so the agent runs them without an ack."""
    started = {str(pk) for pk in started}
    wanted = Q(status=CommandStatus.ISSUED) | Q(pk__in=started) if started else Q(status=CommandStatus.ISSUED)
    commands = HostCommand.objects.filter(wanted, instance_id__in=instance_ids).order_by("issued_at")
    if len(instance_ids) == 1:
        commands = commands[:MAX_COMMANDS]
    out: dict[int, list[dict]] = {}
    for c in sorted(commands, key=lambda c: str(c.pk) not in started):  # stable: started ones first
        mine = out.setdefault(c.instance_id, [])
        if len(mine) < MAX_COMMANDS:
            entry = {"id": str(c.id), "issued_at": c.issued_at.isoformat(), **c.payload}
            if str(c.pk) in started:
                entry["started"] = True
            mine.append(entry)
    for listed in out.values():
        add_download_links(listed)
        _remember_deployments(listed)
    return out


# Which deployment a command belongs to never changes: remember it for the commands this process
# handed out, so an ack or completion needs no look-up before joining its deployment's batch.
_COMMAND_DEPLOYMENTS: dict[str, str] = {}
_COMMAND_DEPLOYMENTS_MAX = 200_000


def _remember_deployments(commands: list[dict]) -> None:
    """Called from the thread pool: dict operations are atomic, and evicting the oldest entry may
    race with another thread doing the same, which only evicts one more."""
    for command in commands:
        if len(_COMMAND_DEPLOYMENTS) >= _COMMAND_DEPLOYMENTS_MAX:
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                _COMMAND_DEPLOYMENTS.pop(next(iter(_COMMAND_DEPLOYMENTS)))
        _COMMAND_DEPLOYMENTS[command["id"]] = command["deployment_id"]


def handed_out_deployment(command_id) -> str | None:
    """The deployment of a command this process handed out; None if it did not (or forgot)."""
    return _COMMAND_DEPLOYMENTS.get(str(command_id))


# Which instance a credential belongs to, for the credentials this process has seen: only so a poll
# can subscribe to its host's wake-ups before its first look. Authentication is always the database's.
_CREDENTIAL_INSTANCES: dict[str, int] = {}
_CREDENTIAL_INSTANCES_MAX = 100_000


async def wait_for_commands(credential: str, reported: dict[str, str], wait: float) -> list[dict]:
    """The host's open commands, waiting up to `wait` seconds for one to be issued. Raises
    Unauthorized for an unknown or revoked credential."""
    deadline = time.monotonic() + wait
    subscriber, channel = realtime.subscriber, realtime.AGENT_WAKE_CHANNEL
    # Subscribe before the first look, so no wake-up slips between.
    known = _CREDENTIAL_INSTANCES.get(credential)
    watch = subscriber.watch(channel, known) if known is not None else None
    try:
        try:
            instance, commands = await asyncdb.db(first_look)(credential, reported)
        except Unauthorized:
            _CREDENTIAL_INSTANCES.pop(credential, None)
            raise
        if known != instance.pk:
            # This process's first poll from the host: subscribe now and look once more.
            if watch is not None:
                subscriber.unwatch(watch)
            watch = subscriber.watch(channel, instance.pk)
            if len(_CREDENTIAL_INSTANCES) < _CREDENTIAL_INSTANCES_MAX:
                _CREDENTIAL_INSTANCES[credential] = instance.pk
            commands = await asyncdb.db(open_commands)(instance.pk)
        while True:
            remaining = deadline - time.monotonic()
            if commands or remaining <= 0:
                return commands
            # With the subscription up, only a wake-up re-checks; without it, poll the DB each second.
            recheck = remaining if watch.healthy else min(remaining, 1.0)
            if not await _woken(watch, recheck) and watch.healthy and recheck >= remaining:
                # Nothing was issued for this host while the subscription was up: answer empty
                # without another look (an idle fleet's polls cost one query each, not two).
                # Anything issued at this very moment is in the next poll's first look.
                return []
            watch.take()
            commands = await asyncdb.db(open_commands)(instance.pk)
    finally:
        if watch is not None:
            subscriber.unwatch(watch)


async def _woken(watch: realtime.Watch, timeout: float) -> bool:
    """Whether the watch is woken within `timeout` seconds."""
    if watch.event.is_set():
        return True
    try:
        await asyncio.wait_for(watch.event.wait(), timeout=timeout)
    except TimeoutError:
        return watch.event.is_set()
    return True
