"""The agent API. Async views so thousands of idle long polls cost a coroutine each, not a thread.

Database work runs in a thread pool (`thread_sensitive=False`), one short transaction per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.db.models import Q
from django.http import FileResponse, HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from deployments import engine, integration_points
from deployments.models import (
    COMMAND_OPEN,
    CommandStatus,
    HostCommand,
    Instance,
    Revision,
    RevisionSource,
)
from deployments.models.fleet import hash_secret
from deployments.realtime import waker

from . import registration, validation
from .validation import BadRequest


def db(fn):
    """Run fn in the thread pool with a healthy connection."""

    def run(*args, **kwargs):
        # Hot path: no per-call health check (a SELECT 1 each time); a connection that failed is
        # dropped so the next call opens a fresh one, and the agent retries this one.
        try:
            return fn(*args, **kwargs)
        except (OperationalError, InterfaceError):
            connection.close()
            raise

    return sync_to_async(run, thread_sensitive=False)


def _error(status: int, detail: str, **extra) -> JsonResponse:
    return JsonResponse({"detail": detail, **extra}, status=status)


def _body(request: HttpRequest) -> dict:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested past the parser's depth
        raise BadRequest("body", "is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body", "must be a JSON object")
    return body


class Unauthorized(Exception):
    """The credential is unknown, revoked or the instance deregistered: a 401."""


def _bearer(request: HttpRequest) -> str | None:
    """The request's bearer credential; None if there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return raw.strip()


def _credential(request: HttpRequest) -> str | None:
    """The hash of the request's bearer credential, as stored; None if there is none."""
    raw = _bearer(request)
    return hash_secret(raw) if raw is not None else None


def _instance(credential: str) -> Instance:
    """The caller's instance, with its heartbeat recorded. Runs in the caller's database hop: a
    request authenticates in the same thread-pool call as its work, not in one of its own."""
    instance = Instance.holding(credential).first()
    if instance is None:
        raise Unauthorized()
    instance.seen()
    return instance


def agent_endpoint(method: str = "POST", authenticated: bool = True):
    """Authenticated views get the hash of the caller's credential and authenticate it in their own
    database work (raising Unauthorized), so no request spends a thread hop on authentication alone."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method != method:
                return _error(405, f"Use {method}.")
            try:
                body = _body(request) if method == "POST" else {}
                if not authenticated:
                    return await view(request, body, *args, **kwargs)
                credential = _credential(request)
                if credential is None:
                    raise Unauthorized()
                return await view(request, credential, body, *args, **kwargs)
            except BadRequest as exc:
                return _error(400, f"{exc.field} {exc.message}", field=exc.field)
            except Unauthorized:
                return _error(
                    401,
                    "Unknown, revoked or missing agent credential. Register the agent again with "
                    "`fleetdeck-agent register`.",
                )

        return wrapper

    return decorate


# --- register ------------------------------------------------------------------------------


def peer_address(request: HttpRequest) -> str | None:
    """The address the agent connects from: the socket's peer, or, when that peer is a proxy the
    operator trusts (FLEETDECK_TRUSTED_PROXIES), the nearest address in X-Forwarded-For that is not one.
    Health checks go to this address, so a header from anyone else is never believed."""
    import ipaddress

    trusted = [ipaddress.ip_network(n, strict=False) for n in settings.TRUSTED_PROXIES]

    def parse(value: str):
        try:
            return ipaddress.ip_address(value.strip().strip("[]"))
        except ValueError:
            return None

    peer = parse(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    hops = [h for h in (request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",") if h.strip()]
    while trusted and any(peer.version == n.version and peer in n for n in trusted) and hops:
        previous = parse(hops.pop())
        if previous is None:
            break
        peer = previous
    return str(peer)


def _register(body: dict, credential: str | None, peer: str | None = None) -> tuple[int, dict]:
    raw_token = validation.text(body, "token", required=True, max_length=200)
    name = validation.instance_name(body)
    tags = validation.tags(body.get("tags"))
    details = {
        "hostname": validation.hostname(body),
        "peer_address": peer,
        "platform": validation.text(body, "platform", max_length=50),
        "agent_version": validation.text(body, "agent_version", max_length=50),
        "ec2_instance_id": validation.ec2_instance_id(body),
    }
    try:
        done = registration.register(raw_token, credential, name, tags, details)
    except registration.Refused as exc:
        return exc.status, {"detail": exc.detail}
    instance = done.instance
    return done.status, {
        "instance_id": instance.pk,
        "name": instance.name,
        "tags": instance.tags,
        "credential": done.credential,
    }


@agent_endpoint(authenticated=False)
async def register(request: HttpRequest, body: dict):
    # A host registering again presents its current credential, as on every other call.
    status, payload = await db(_register)(body, _bearer(request), peer_address(request))
    return JsonResponse(payload, status=status)


# --- poll ----------------------------------------------------------------------------------


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


def _first_look(credential: str, reported: dict[str, str]) -> tuple[Instance, list[dict]]:
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
    return instance, (_open_commands(instance.pk) if instance.has_commands else [])


def _open_commands(instance_id: int) -> list[dict]:
    return _open_commands_for([instance_id]).get(instance_id, [])


def _open_commands_for(instance_ids: list[int], started=()) -> dict[int, list[dict]]:
    """What a poll would hand each of these instances now: up to 20 issued commands, oldest first.

    `started` are commands issued already started for these instances (see `engine._issue`): they
    come first, marked `"started": true`, so the agent runs them without an ack."""
    started = {str(pk) for pk in started}
    wanted = Q(status=CommandStatus.ISSUED) | Q(pk__in=started) if started else Q(status=CommandStatus.ISSUED)
    commands = HostCommand.objects.filter(wanted, instance_id__in=instance_ids).order_by("issued_at")
    if len(instance_ids) == 1:
        commands = commands[:20]
    out: dict[int, list[dict]] = {}
    for c in sorted(commands, key=lambda c: str(c.pk) not in started):  # stable: started ones first
        mine = out.setdefault(c.instance_id, [])
        if len(mine) < 20:
            entry = {"id": str(c.id), "issued_at": c.issued_at.isoformat(), **c.payload}
            if str(c.pk) in started:
                entry["started"] = True
            mine.append(entry)
    for listed in out.values():
        _external_sources(listed)
        _remember_deployments(listed)
    return out


def _external_sources(commands: list[dict]) -> None:
    """Where each command's agent downloads its revision from. Never an integration secret: uploads and
    GitHub archives (fetched by the server before the deployment started) come from this server with
    the agent's own credential, so a GitHub revision is handed out as served here ("fleetdeck", which
    old agents also answer with their bearer credential); S3 gets a fresh presigned URL, never stored."""
    fetched: dict[int, dict | None] = {}
    for command in commands:
        revision = command.get("revision") or {}
        if revision.get("source") == RevisionSource.GITHUB:
            revision["source"] = RevisionSource.UPLOAD
            continue
        if revision.get("source") != RevisionSource.S3:
            continue
        if revision["id"] not in fetched:
            stored = Revision.objects.filter(pk=revision["id"]).first()
            try:
                fetched[revision["id"]] = integration_points.revision_download(stored) if stored else None
            except Exception as exc:  # the connection is missing or AWS is down: DownloadBundle says so
                logging.getLogger(__name__).warning(
                    "no download link for revision %s: %s", revision["id"], exc
                )
                fetched[revision["id"]] = None
        fetch = fetched[revision["id"]]
        if fetch:
            revision["url"] = fetch["url"]


def _absolutize(request: HttpRequest, commands: list[dict]) -> list[dict]:
    for command in commands:
        revision = command.get("revision") or {}
        url = revision.get("url") or ""
        if url.startswith("/"):
            revision["url"] = (
                (settings.PUBLIC_URL + url) if settings.PUBLIC_URL else request.build_absolute_uri(url)
            )
    return commands


def _poll_answer(request: HttpRequest, commands: list[dict]) -> JsonResponse:
    return JsonResponse(
        {
            "commands": _absolutize(request, commands),
            # A third of the offline window, so a busy agent is never taken for a lost one.
            "heartbeat_seconds": max(settings.AGENT_OFFLINE_AFTER / 3, 0.5),
        }
    )


# Which instance a credential belongs to, for the credentials this process has seen: only so a poll
# can subscribe to its host's wake-ups before its first look. Authentication is always the database's.
_CREDENTIAL_INSTANCES: dict[str, int] = {}
_CREDENTIAL_INSTANCES_MAX = 100_000


@agent_endpoint()
async def poll(request: HttpRequest, credential: str, body: dict):
    try:
        wait = float(request.GET.get("wait", settings.POLL_WAIT_MAX))
    except ValueError:
        raise BadRequest("wait", "must be a number of seconds") from None
    if math.isnan(wait):  # NaN passes the min/max below unchanged, and a NaN deadline never comes
        raise BadRequest("wait", "must be a number of seconds")
    # A poll is a heartbeat only when it starts, so it must end well inside the offline window.
    wait = min(max(wait, 0.0), float(settings.POLL_WAIT_MAX), settings.AGENT_OFFLINE_AFTER / 3)
    reported = {
        "agent_version": validation.text(body, "agent_version", max_length=50),
        "ec2_instance_id": validation.ec2_instance_id(body),
        # Written only when it changed, like the rest of `reported`: no extra statement per poll.
        "peer_address": peer_address(request),
    }
    deadline = time.monotonic() + wait
    # Subscribe before the first look, so no wake-up slips between.
    known = _CREDENTIAL_INSTANCES.get(credential)
    subscribed, woken = known, (waker.register(known) if known is not None else None)
    try:
        try:
            instance, commands = await db(_first_look)(credential, reported)
        except Unauthorized:
            _CREDENTIAL_INSTANCES.pop(credential, None)
            raise
        if subscribed != instance.pk:
            # This process's first poll from the host: subscribe now and look once more.
            if woken is not None:
                waker.unregister(subscribed, woken)
            subscribed, woken = instance.pk, waker.register(instance.pk)
            if len(_CREDENTIAL_INSTANCES) < _CREDENTIAL_INSTANCES_MAX:
                _CREDENTIAL_INSTANCES[credential] = instance.pk
            commands = await db(_open_commands)(instance.pk)
        while True:
            remaining = deadline - time.monotonic()
            if commands or remaining <= 0:
                return _poll_answer(request, commands)
            # With the subscription up, only a wake-up re-checks; without it, poll the DB each second.
            recheck = remaining if waker.healthy else min(remaining, 1.0)
            try:
                await asyncio.wait_for(woken.wait(), timeout=recheck)
            except TimeoutError:
                if waker.healthy and not woken.is_set() and recheck >= remaining:
                    # Nothing was issued for this host while the subscription was up: answer empty
                    # without another look (an idle fleet's polls cost one query each, not two).
                    # Anything issued at this very moment is in the next poll's first look.
                    return _poll_answer(request, [])
            woken.clear()
            commands = await db(_open_commands)(instance.pk)
    finally:
        if woken is not None:
            waker.unregister(subscribed, woken)


@agent_endpoint()
async def heartbeat(request: HttpRequest, credential: str, body: dict):
    await db(_instance)(credential)
    return JsonResponse({})


# --- per command ---------------------------------------------------------------------------


def _not_found(command_id) -> JsonResponse:
    return _error(404, f"Command {command_id} is not assigned to this agent.")


class Combiner:
    """Agent calls on the same deployment, arriving together, run together.

    Every ack, log and completion takes its deployment's row lock (the event log's sequence numbers
    and the orchestration need it), so on a large deployment they queue on that lock one transaction
    and one commit at a time. Here the calls that arrive while one batch runs wait for the next one,
    and each batch is one transaction (`engine.agent_calls`): the same guarantees, a fraction of the
    lock hand-offs, round trips and commits. A call alone is a batch of one, with no added wait.
    """

    MAX_BATCH = 200

    def __init__(self) -> None:
        self.queues: dict[tuple, list] = {}
        self.tasks: set[asyncio.Task] = set()

    async def call(self, deployment_id: str, op: str, command_id, credential: str, *args):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        key = (id(loop), deployment_id)
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = []
            task = loop.create_task(self._drain(key, deployment_id))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        queue.append(((op, command_id, credential, args), future))
        return await future

    async def _drain(self, key: tuple, deployment_id: str) -> None:
        queue = self.queues[key]
        try:
            while queue:
                batch = queue[: self.MAX_BATCH]
                del queue[: len(batch)]
                try:
                    results = await db(_run_batch)(deployment_id, [call for call, _ in batch])
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.queues.pop(key, None)
            for _, future in queue:
                if not future.done():
                    future.set_exception(RuntimeError("the agent call batch was cancelled"))


def _run_batch(deployment_id: str, calls: list[tuple]) -> list:
    """One batch: authenticate every caller in one query, run the calls in one transaction, record
    the callers' heartbeats in one UPDATE, then fetch every completing host's next commands in one
    query (the completion's answer). Calls are `(op, command_id, credential hash, args)`."""
    instances = {i.credential_hash: i for i in Instance.holding(*{call[2] for call in calls})}
    results: list = [Unauthorized()] * len(calls)
    known = [index for index, call in enumerate(calls) if call[2] in instances]
    if known:
        engine_calls = [
            (op, command_id, instances[cred], args)
            for op, command_id, cred, args in (calls[i] for i in known)
        ]
        for index, result in zip(known, engine.agent_calls(deployment_id, engine_calls), strict=True):
            results[index] = result
        try:
            Instance.seen_many(instances.values())
        except DatabaseError as exc:  # a heartbeat is best effort; the calls themselves committed
            logging.getLogger(__name__).warning("heartbeats of a batch not recorded: %s", exc)
    completed = {
        index: instances[calls[index][2]].pk
        for index in known
        if calls[index][0] == "complete" and isinstance(results[index], HostCommand)
    }
    if not completed:
        return results
    started = [results[index].started_next.pk for index in completed if results[index].started_next]
    open_by_instance = _open_commands_for(list(completed.values()), started)
    for index, instance_id in completed.items():
        results[index] = (results[index], open_by_instance.get(instance_id, []))
    return results


combiner = Combiner()

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


def _command_deployment(command_id, credential: str) -> str | None:
    """The deployment of a command this process has not handed out; None if the command is not the
    caller's, Unauthorized if the credential is not valid."""
    deployment_id = (
        HostCommand.objects.filter(pk=command_id, instance__in=Instance.holding(credential))
        .values_list("deployment_id", flat=True)
        .first()
    )
    if deployment_id is None:
        _instance(credential)  # a bad credential is a 401; someone else's command a 404
    return deployment_id


async def _agent_call(op: str, command_id, credential: str, *args):
    """Run op on the command through its deployment's batch; None if it is not the caller's."""
    deployment_id = _COMMAND_DEPLOYMENTS.get(str(command_id))
    if deployment_id is None:
        deployment_id = await db(_command_deployment)(command_id, credential)
        if deployment_id is None:
            return None
    return await combiner.call(deployment_id, op, command_id, credential, *args)


@agent_endpoint()
async def ack(request: HttpRequest, credential: str, body: dict, command_id):
    timeout = validation.positive_int(body, "timeout_seconds")
    command = await _agent_call("ack", command_id, credential, timeout)
    if command is None:
        return _not_found(command_id)
    if command.status == CommandStatus.CANCELLED:
        return _error(409, "The deployment was stopped before this event started. Do not run it.")
    if command.status == CommandStatus.COMPLETED and command.acked_at is None:
        return _error(409, "The server already failed this event (the agent was too late). Do not run it.")
    return JsonResponse({"status": command.lifecycle_event.status})


@agent_endpoint()
async def log_lines(request: HttpRequest, credential: str, body: dict, command_id):
    lines = validation.log_lines(body)
    stored = await _agent_call("log", command_id, credential, lines)
    if stored is None:
        return _not_found(command_id)
    return JsonResponse({"stored": stored})


@agent_endpoint()
async def complete(request: HttpRequest, credential: str, body: dict, command_id):
    status, diagnostics = validation.completion(body)
    lines = validation.log_lines(body) if body.get("lines") else None
    start_next = validation.start_next(body)
    done = await _agent_call(
        "complete",
        command_id,
        credential,
        status,
        diagnostics,
        body.get("started_at"),
        body.get("ended_at"),
        lines,
        start_next,
    )
    if done is None:
        return _not_found(command_id)
    # Hand back the host's next commands (fetched right after the batch committed), so the agent
    # goes straight on without a poll; with `start_next`, the next one already started (no ack).
    command, commands = done
    return JsonResponse(
        {"status": command.lifecycle_event.status, "commands": _absolutize(request, commands)}
    )


# --- bundles -------------------------------------------------------------------------------


def _bundle(credential: str, revision_id: int):
    instance = _instance(credential)
    revision = Revision.objects.filter(pk=revision_id).first()
    if revision is None or not (revision.bundle or revision.bundle_pruned_at):
        return None
    if not HostCommand.objects.filter(instance=instance, deployment__revision_id=revision_id).exists():
        return None
    return revision


def _bundle_missing(credential: str, revision_id: int, message: str) -> None:
    """Halt this host's running deployments of the revision with REVISION_MISSING."""
    instance = _instance(credential)
    running = (
        HostCommand.objects.filter(
            instance=instance, deployment__revision_id=revision_id, status__in=COMMAND_OPEN
        )
        .values_list("deployment_id", flat=True)
        .distinct()
    )
    for deployment_id in list(running):
        engine.revision_missing(deployment_id, message)


@agent_endpoint(method="GET")
async def bundle(request: HttpRequest, credential: str, body: dict, revision_id: int):
    revision = await db(_bundle)(credential, revision_id)
    if revision is None:
        return _error(404, f"Revision {revision_id} is not part of any deployment to this instance.")
    try:
        if not revision.bundle:
            raise FileNotFoundError(revision_id)  # pruned by retention
        handle = revision.bundle.open("rb")
    except OSError:
        message = (
            f"The bundle of revision {revision_id} is missing from the server's storage "
            "(FLEETDECK_STORAGE_DIR); upload the revision again and redeploy."
        )
        await db(_bundle_missing)(credential, revision_id, message)
        return _error(410, message)
    response = FileResponse(handle, content_type="application/octet-stream")
    response["Content-Length"] = str(revision.size or revision.bundle.size)
    response["X-Fleetdeck-Sha256"] = revision.sha256
    return response
