"""The agent API's HTTP layer: request parsing, authentication errors, answers.

Async views, so thousands of idle long polls cost a coroutine each, not a thread. The work is
elsewhere: the long poll in `poll.py`, acks, logs and completions batched per deployment in
`batching.py`, download links in `revision_links.py`. Database work runs in the thread pool
(`asyncdb.db`), one short transaction per call.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math

from django.conf import settings
from django.http import FileResponse, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from deployments import asyncdb, engine
from deployments.models import COMMAND_OPEN, CommandStatus, HostCommand, Revision

from . import registration, validation
from .batching import agent_call
from .credentials import Unauthorized, authenticate, bearer, credential_hash
from .poll import wait_for_commands
from .revision_links import absolutize
from .validation import BadRequest


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
                credential = credential_hash(request)
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
    status, payload = await asyncdb.db(_register)(body, bearer(request), peer_address(request))
    return JsonResponse(payload, status=status)


# --- poll ----------------------------------------------------------------------------------


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
    commands = await wait_for_commands(credential, reported, wait)
    return JsonResponse(
        {
            "commands": absolutize(request, commands),
            # A third of the offline window, so a busy agent is never taken for a lost one.
            "heartbeat_seconds": max(settings.AGENT_OFFLINE_AFTER / 3, 0.5),
        }
    )


@agent_endpoint()
async def heartbeat(request: HttpRequest, credential: str, body: dict):
    await asyncdb.db(authenticate)(credential)
    return JsonResponse({})


# --- per command ---------------------------------------------------------------------------


def _not_found(command_id) -> JsonResponse:
    return _error(404, f"Command {command_id} is not assigned to this agent.")


@agent_endpoint()
async def ack(request: HttpRequest, credential: str, body: dict, command_id):
    timeout = validation.positive_int(body, "timeout_seconds")
    command = await agent_call("ack", command_id, credential, timeout)
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
    stored = await agent_call("log", command_id, credential, lines)
    if stored is None:
        return _not_found(command_id)
    return JsonResponse({"stored": stored})


@agent_endpoint()
async def complete(request: HttpRequest, credential: str, body: dict, command_id):
    status, diagnostics = validation.completion(body)
    lines = validation.log_lines(body) if body.get("lines") else None
    start_next = validation.start_next(body)
    done = await agent_call(
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
    return JsonResponse({"status": command.lifecycle_event.status, "commands": absolutize(request, commands)})


# --- bundles -------------------------------------------------------------------------------


def _bundle(credential: str, revision_id: int):
    instance = authenticate(credential)
    revision = Revision.objects.filter(pk=revision_id).first()
    if revision is None or not (revision.bundle or revision.bundle_pruned_at):
        return None
    if not HostCommand.objects.filter(instance=instance, deployment__revision_id=revision_id).exists():
        return None
    return revision


def _bundle_missing(credential: str, revision_id: int, message: str) -> None:
    """Halt this host's running deployments of the revision with REVISION_MISSING."""
    instance = authenticate(credential)
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
    revision = await asyncdb.db(_bundle)(credential, revision_id)
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
        await asyncdb.db(_bundle_missing)(credential, revision_id, message)
        return _error(410, message)
    response = FileResponse(handle, content_type="application/octet-stream")
    response["Content-Length"] = str(revision.size or revision.bundle.size)
    response["X-Fleetdeck-Sha256"] = revision.sha256
    return response
