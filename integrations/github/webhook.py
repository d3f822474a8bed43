"""The push webhook: /integrations/github/<project slug>/webhook.

Nothing is created unless X-Hub-Signature-256 matches the connection's webhook secret, and a
delivery id GitHub already sent is answered 200 and ignored (GitHub redelivers on timeouts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from urllib.parse import parse_qs

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations import tiles
from integrations.models import GitHubConnection, GitHubDelivery

log = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    if not secret or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode())


@csrf_exempt
@require_POST
def receive(request: HttpRequest, slug: str) -> HttpResponse:
    connection = GitHubConnection.objects.filter(project__slug=slug).select_related("project").first()
    body = request.body[: MAX_BODY + 1]
    # Same answer for "no such project" and "bad signature": the webhook URL reveals nothing.
    if connection is None or not signature_ok(
        connection.webhook_secret, body, request.headers.get("X-Hub-Signature-256", "")
    ):
        return JsonResponse({"detail": "Signature missing or invalid."}, status=401)
    if len(body) > MAX_BODY:
        return JsonResponse({"detail": "Payload too large."}, status=413)
    delivery_id = request.headers.get("X-GitHub-Delivery", "")[:100]
    event = request.headers.get("X-GitHub-Event", "")[:50]
    if not delivery_id:
        return JsonResponse({"detail": "X-GitHub-Delivery is missing."}, status=400)
    try:
        if request.content_type == "application/x-www-form-urlencoded":
            # GitHub's other content type: the JSON is in a "payload" form field.
            text = parse_qs(body.decode()).get("payload", [""])[0]
        else:
            text = body.decode()
        payload = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
        return JsonResponse({"detail": "The body is not JSON."}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"detail": "The body is not a JSON object."}, status=400)
    if "\\u0000" in text:  # JSON's only way to carry NUL, which PostgreSQL cannot store
        return JsonResponse({"detail": "The payload contains NUL (0x00) characters."}, status=400)
    for key in ("ref", "after"):
        if not isinstance(payload.get(key, ""), str):
            return JsonResponse({"detail": f"The payload's {key} must be a string."}, status=400)
    try:
        with transaction.atomic():
            delivery = GitHubDelivery.objects.create(
                project=connection.project,
                delivery_id=delivery_id,
                event=event,
                ref=str(payload.get("ref", ""))[:255],
                commit=str(payload.get("after", ""))[:64],
            )
            if event == "push":
                result, deployments = handle_push(connection, payload)
                # New commits: the repository and build tiles must not show the cached ones.
                tiles.invalidate(connection.project_id)
            else:
                result, deployments = f"Ignored a {event or 'unnamed'} event.", []
            delivery.result, delivery.deployments = result, deployments
            delivery.save(update_fields=["result", "deployments"])
    except IntegrityError:
        return JsonResponse({"detail": "Already received; ignored.", "replay": True})
    return JsonResponse({"detail": result, "deployments": deployments})


def handle_push(connection: GitHubConnection, payload: dict) -> tuple[str, list[str]]:
    from deployments import engine
    from deployments.models import BundleType, Creator, Revision, RevisionSource

    ref = payload.get("ref", "")
    commit = payload.get("after", "")
    if not ref.startswith("refs/heads/"):
        return "Not a branch push; nothing to deploy.", []
    if payload.get("deleted") or not commit or set(commit) == {"0"}:
        return "A branch deletion; nothing to deploy.", []
    branch = ref.removeprefix("refs/heads/")
    rules = list(connection.rules.filter(branch=branch).select_related("group__application"))
    if not rules:
        return f"No auto-deploy rule for {branch}.", []
    pusher = _text(payload, "pusher", "name") or _text(payload, "sender", "login") or "someone"
    repository = _text(payload, "repository", "full_name") or connection.repository
    message = _text(payload, "head_commit", "message")[:500]
    created = []
    for rule in rules:
        revision = Revision.objects.create(
            application=rule.group.application,
            source=RevisionSource.GITHUB,
            bundle_type=BundleType.TGZ,
            location={"repository": repository, "commit": commit, "ref": ref},
            description=message,
        )
        try:
            deployment = engine.create_deployment(
                group=rule.group,
                revision=revision,
                creator=Creator.USER,
                description=f"push to {branch} by {pusher}"[:500],
            )
        except engine.DeploymentError as exc:
            log.warning("auto-deploy of %s to %s refused: %s", commit[:12], rule.group, exc.message)
            continue
        created.append(deployment.id)
    return f"Push to {branch}: started {len(created)} deployment(s).", created


def _text(payload: dict, *keys: str) -> str:
    """A string nested in the payload, or "" when any level is missing or of another type."""
    value = payload
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""
