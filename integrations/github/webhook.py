"""The push webhook: /integrations/github/<project slug>/webhook.

Nothing is created unless X-Hub-Signature-256 matches the connection's webhook secret. The signature
proves only that someone once held the secret, so the body is trusted for nothing it could lie about:

* a push for any repository but the project's connected one is refused (and logged);
* the commit deployed is the branch head GitHub reports now, read with the project's connection;
* a group whose latest deployment is already of that head gets nothing, so a body replayed later
  (with a fresh X-GitHub-Delivery, which the signature does not cover) cannot roll a group back.
  A force-push to an older commit moves the head, so a revert still deploys.

A delivery id GitHub already sent is answered 200 and ignored (GitHub redelivers on timeouts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from urllib.parse import parse_qs

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from deployments import engine
from deployments.models import BundleType, Creator, Deployment, DeploymentGroup, Revision, RevisionSource
from integrations.models import GitHubConnection, GitHubDelivery
from integrations.signals import outside_data_changed

from .client import GitHubClient, GithubException
from .revisions import COMMIT_RE

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
    if GitHubDelivery.objects.filter(delivery_id=delivery_id).exists():
        return JsonResponse({"detail": "Already received; ignored.", "replay": True})
    push = Push.read(connection, payload) if event == "push" else None
    if push is not None and push.refusal is None and push.rules:
        # The one network call, before any row is written or locked. When GitHub cannot answer,
        # nothing is recorded, so GitHub's "Redeliver" (same delivery id) works once it can.
        failure = push.read_head()
        if failure:
            log.warning("push to %s of %s not deployed: %s", push.branch, connection.project.slug, failure)
            return JsonResponse({"detail": failure, "deployments": []}, status=502)
    try:
        with transaction.atomic():
            delivery = GitHubDelivery.objects.create(
                project=connection.project,
                delivery_id=delivery_id,
                event=event,
                ref=str(payload.get("ref", ""))[:255],
                commit=str((push and push.head) or payload.get("after", ""))[:64],
            )
            if push is not None:
                result, deployments = push.deploy()
                # New commits: the dashboard's repository and build tiles must not show cached ones.
                outside_data_changed.send(sender=GitHubDelivery, project_id=connection.project_id)
            else:
                result, deployments = f"Ignored a {event or 'unnamed'} event.", []
            delivery.result, delivery.deployments = result, deployments
            delivery.save(update_fields=["result", "deployments"])
    except IntegrityError:
        return JsonResponse({"detail": "Already received; ignored.", "replay": True})
    if push is not None and push.refusal:
        return JsonResponse({"detail": result, "deployments": []}, status=403)
    return JsonResponse({"detail": result, "deployments": deployments})


class Push:
    """One push event: what the body asks for, checked against the connection and GitHub."""

    def __init__(self, connection: GitHubConnection, payload: dict):
        self.connection = connection
        self.payload = payload
        self.ref = payload.get("ref", "")
        self.branch = self.ref.removeprefix("refs/heads/")
        self.refusal: str | None = None
        self.skip: str | None = None
        self.rules: list = []
        self.head = ""
        self.head_message = ""

    @classmethod
    def read(cls, connection: GitHubConnection, payload: dict) -> Push:
        push = cls(connection, payload)
        repository = _text(payload, "repository", "full_name")
        if not repository:
            push.refusal = (
                f"Refused: the push names no repository; this webhook deploys only {connection.repository}."
            )
            return push
        if repository.lower() != connection.repository.lower():
            push.refusal = (
                f"Refused: the push is for {repository[:200]}, but this project deploys only "
                f"{connection.repository}. Point that repository's webhook at its own project."
            )
            return push
        commit = payload.get("after", "")
        if not push.ref.startswith("refs/heads/"):
            push.skip = "Not a branch push; nothing to deploy."
        elif payload.get("deleted") or not commit or set(commit) == {"0"}:
            push.skip = "A branch deletion; nothing to deploy."
        else:
            push.rules = list(
                connection.rules.filter(branch=push.branch).select_related("group__application")
            )
            if not push.rules:
                push.skip = f"No auto-deploy rule for {push.branch}."
        return push

    def read_head(self) -> str:
        """Ask GitHub where the branch is now; "" when it answered (a missing branch is an answer)."""
        client = GitHubClient(self.connection, timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT)
        try:
            branch = client.branch(self.branch)
        except GithubException as exc:
            if exc.status == 404:
                self.skip = f"GitHub has no branch {self.branch} (deleted since the push); nothing deployed."
                return ""
            return (
                f"GitHub answered HTTP {exc.status} when asked where {self.branch} is; nothing was "
                "deployed. Redeliver the push from GitHub, or deploy from Fleetdeck."
            )
        except OSError as exc:
            return (
                f"GitHub cannot be reached to ask where {self.branch} is ({type(exc).__name__}); nothing "
                "was deployed. Redeliver the push from GitHub, or deploy from Fleetdeck."
            )
        commit = (branch or {}).get("commit") or {}
        self.head = str(commit.get("sha") or "").lower()
        if not COMMIT_RE.match(self.head):
            return f"GitHub gave no commit for {self.branch}; nothing was deployed."
        details = commit.get("commit") if isinstance(commit.get("commit"), dict) else {}
        self.head_message = str(details.get("message") or "")
        return ""

    def deploy(self) -> tuple[str, list[str]]:
        """Deploy the head to each ruled group whose latest deployment is not of it already.

        Runs in the delivery's transaction; each group's row lock makes "latest deployment" and the
        new one a single decision, so two deliveries at once cannot both deploy."""
        if self.refusal or self.skip:
            return self.refusal or self.skip, []
        pusher = _text(self.payload, "pusher", "name") or _text(self.payload, "sender", "login") or "someone"
        message = self.head_message or (
            _text(self.payload, "head_commit", "message") if self.payload.get("after") == self.head else ""
        )
        revisions: dict[int, Revision] = {}
        created, current = [], []
        for rule in self.rules:
            group = DeploymentGroup.objects.select_for_update().get(pk=rule.group_id)
            if _latest_commit(group) == self.head:
                current.append(str(group))
                continue
            revision = revisions.get(group.application_id)
            if revision is None:
                revision = revisions[group.application_id] = Revision.objects.create(
                    application_id=group.application_id,
                    source=RevisionSource.GITHUB,
                    bundle_type=BundleType.TGZ,
                    location={"repository": self.connection.repository, "commit": self.head, "ref": self.ref},
                    description=message[:500],
                )
            try:
                deployment = engine.create_deployment(
                    group=rule.group,
                    revision=revision,
                    creator=Creator.USER,
                    description=f"push to {self.branch} by {pusher}"[:500],
                )
            except engine.DeploymentError as exc:
                log.warning("auto-deploy of %s to %s refused: %s", self.head[:12], rule.group, exc.message)
                continue
            created.append(deployment.id)
        result = f"Push to {self.branch}: started {len(created)} deployment(s) of {self.head[:12]}."
        if current:
            result += (
                f" Nothing new for {', '.join(current)}: the latest deployment there is already of "
                f"{self.head[:12]} (a replay, or a push that did not move the branch)."
            )
        return result, created


def _latest_commit(group) -> str:
    """The commit of the group's most recent deployment, "" when it is not a GitHub revision."""
    latest = (
        Deployment.objects.filter(deployment_group=group)
        .order_by("-created_at", "-id")
        .values_list("revision__source", "revision__location")
        .first()
    )
    if latest is None or latest[0] != RevisionSource.GITHUB:
        return ""
    return str((latest[1] or {}).get("commit") or "").lower()


def _text(payload: dict, *keys: str) -> str:
    """A string nested in the payload, or "" when any level is missing or of another type."""
    value = payload
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""
