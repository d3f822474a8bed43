"""Building and sending one trigger delivery. Pure transport: the task records attempts and retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail

from core import outbound
from core.crypto import scrub
from integrations.check_errors import Target, explain
from integrations.models import DeliveryKind, Trigger

USER_AGENT = "Fleetdeck-Trigger/1"


@dataclass
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""
    duration_ms: int = 0
    retry: bool = True  # False: another attempt cannot succeed until the operator changes something


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(trigger: Trigger, event: str, deployment, instance: str, delivery_id: str) -> dict:
    group = deployment.deployment_group
    return {
        "delivery_id": delivery_id,
        "trigger_name": trigger.name,
        "event": event,
        "application_name": deployment.application.name,
        "deployment_group_name": group.name,
        "deployment_id": deployment.id,
        "status": deployment.status,
        "error_code": deployment.error_code or None,
        "error_message": deployment.error_message or None,
        "creator": deployment.creator,
        "description": deployment.description,
        "revision": {"id": deployment.revision_id, **deployment.revision.hook_environment()},
        "instance": instance or None,
        "create_time": deployment.created_at.isoformat(),
        "start_time": deployment.started_at.isoformat() if deployment.started_at else None,
        "end_time": deployment.ended_at.isoformat() if deployment.ended_at else None,
    }


def summary(data: dict) -> str:
    what = f"{data['application_name']}/{data['deployment_group_name']} {data['deployment_id']}"
    if data["instance"]:
        what += f" on {data['instance']}"
    text = f"{data['event']}: {what} ({data['status']})"
    if data["error_message"]:
        text += f" — {data['error_message']}"
    return text


EMAIL_NOT_CONFIGURED = (
    "Email is not configured on this server: the operator sets FLEETDECK_EMAIL_HOST "
    "(and FLEETDECK_EMAIL_USER / FLEETDECK_EMAIL_PASSWORD if the relay needs them)."
)


def email_configured() -> bool:
    """SMTP needs a relay; any other backend (tests' locmem, console) sends on its own."""
    smtp = settings.EMAIL_BACKEND in (
        "django.core.mail.backends.smtp.EmailBackend",
        "core.outbound.SMTPBackend",
    )
    return bool(settings.EMAIL_HOST) or not smtp


def send(trigger: Trigger, data: dict) -> Outcome:
    started = time.monotonic()
    try:
        if trigger.kind == DeliveryKind.EMAIL:
            if not email_configured():
                return Outcome(False, error=EMAIL_NOT_CONFIGURED, duration_ms=_ms(started), retry=False)
            recipients = [a.strip() for a in trigger.target.split(",") if a.strip()]
            send_mail(f"[Fleetdeck] {summary(data)}", json.dumps(data, indent=2), None, recipients)
            return Outcome(True, duration_ms=_ms(started))
        if trigger.kind == DeliveryKind.SLACK:
            body = json.dumps({"text": summary(data)}).encode()
            headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        else:
            body = json.dumps(data, sort_keys=True).encode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Fleetdeck-Event": data["event"],
                "X-Fleetdeck-Delivery": data["delivery_id"],
                "X-Fleetdeck-Signature": sign(trigger.secret, body),
            }
        with outbound.session(timeout=settings.FLEETDECK_INTEGRATIONS_TIMEOUT) as http:
            response = http.post(trigger.target, data=body, headers=headers, allow_redirects=False)
            response.close()
    except outbound.OutboundRefused as exc:
        # Not transient: only the operator (FLEETDECK_OUTBOUND_ALLOW) or the owner can change it.
        return Outcome(False, error=_scrubbed(trigger, str(exc)), duration_ms=_ms(started), retry=False)
    except smtplib.SMTPException as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:1000], duration_ms=_ms(started))
    except (requests.RequestException, OSError) as exc:
        # What to fix, not urllib3's pool text: the delivery log is read by the project's owners.
        where = Target(
            "the receiver", "the trigger's URL", trigger.target, {}, settings.FLEETDECK_INTEGRATIONS_TIMEOUT
        )
        error = explain(exc, where)
        if trigger.kind == DeliveryKind.SLACK:
            # requests names the URL's path in its errors, and a Slack URL is a credential.
            error = scrub(error, trigger.target, urlsplit(trigger.target).path)
        return Outcome(False, error=error[:1000], duration_ms=_ms(started))
    ok = 200 <= response.status_code < 300
    # The status and its reason only: the receiver's body is not ours to show.
    error = "" if ok else f"HTTP {response.status_code} {response.reason or ''}".strip()
    return Outcome(ok, response.status_code, error, _ms(started))


def _scrubbed(trigger: Trigger, error: str) -> str:
    if trigger.kind == DeliveryKind.SLACK:
        return scrub(error, trigger.target, urlsplit(trigger.target).path)[:1000]
    return error[:1000]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
