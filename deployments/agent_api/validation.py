"""Checks for what agents send. Each failure names the field and what was expected."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime

from deployments.models import EventStatus, ScriptErrorCode
from deployments.models.application import NAME_VALIDATOR

MAX_LOG_LINES = 1000
MAX_LINE_CHARS = 16_384
MAX_TAGS = 50
MAX_COUNTER = 2**31 - 1  # sequence numbers and timeouts live in 32-bit columns


class BadRequest(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def tags(value, field: str = "tags") -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(field, "must be an object of string keys and values")
    if len(value) > MAX_TAGS:
        raise BadRequest(field, f"at most {MAX_TAGS} tags")
    for key, val in value.items():
        if not isinstance(key, str) or not key or len(key) > 128:
            raise BadRequest(field, f"tag key {key!r} must be a non-empty string of at most 128 characters")
        if not isinstance(val, str) or len(val) > 256:
            raise BadRequest(field, f"tag {key!r} must have a string value of at most 256 characters")
    return dict(value)


def text(body: dict, field: str, *, required: bool = False, max_length: int = 255) -> str:
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise BadRequest(field, "is required")
        return ""
    if not isinstance(value, str):
        raise BadRequest(field, "must be a string")
    if len(value) > max_length:
        raise BadRequest(field, f"must be at most {max_length} characters")
    return value


HOSTNAME = re.compile(r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$")


def hostname(body: dict) -> str:
    """What the agent says its host is called: a DNS host name or an IP address, nothing else (it is
    shown on pages and, where the operator enables it, used by health checks)."""
    import ipaddress

    value = text(body, "hostname")
    if not value:
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not HOSTNAME.match(value):
        raise BadRequest(
            "hostname", "must be a host name (letters, digits, hyphens and dots) or an IP address"
        )
    return value


def positive_int(body: dict, field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_COUNTER:
        raise BadRequest(field, f"must be a positive integer up to {MAX_COUNTER}")
    return value


def instance_name(body: dict) -> str:
    name = text(body, "name", required=True, max_length=100)
    try:
        NAME_VALIDATOR(name)
    except DjangoValidationError as exc:
        raise BadRequest("name", exc.messages[0]) from None
    return name


def log_lines(body: dict) -> list[dict]:
    lines = body.get("lines")
    if not isinstance(lines, list):
        raise BadRequest("lines", "must be a list of {seq, ts, stream, text}")
    if len(lines) > MAX_LOG_LINES:
        raise BadRequest("lines", f"send at most {MAX_LOG_LINES} lines per request")
    out = []
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            raise BadRequest(f"lines[{index}]", "must be an object")
        seq = line.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_COUNTER:
            raise BadRequest(f"lines[{index}].seq", f"must be a positive integer up to {MAX_COUNTER}")
        value = line.get("text", "")
        if not isinstance(value, str):
            raise BadRequest(f"lines[{index}].text", "must be a string")
        stream = line.get("stream", "stdout")
        if stream not in ("stdout", "stderr", "agent"):
            raise BadRequest(f"lines[{index}].stream", "must be stdout, stderr or agent")
        out.append(
            {
                "seq": seq,
                "text": value[:MAX_LINE_CHARS],
                "stream": stream,
                "ts": line.get("ts") if isinstance(line.get("ts"), str) else "",
                "script": line.get("script") if isinstance(line.get("script"), str) else "",
            }
        )
    return out


def completion(body: dict) -> tuple[str, dict]:
    status = body.get("status")
    allowed = (EventStatus.SUCCEEDED, EventStatus.FAILED, EventStatus.SKIPPED)
    if status not in allowed:
        raise BadRequest("status", f"must be one of {', '.join(allowed)}")
    diagnostics = body.get("diagnostics") or {}
    if not isinstance(diagnostics, dict):
        raise BadRequest("diagnostics", "must be an object")
    code = diagnostics.get("error_code") or ""
    if code and code not in ScriptErrorCode.values:
        raise BadRequest("diagnostics.error_code", f"must be one of {', '.join(ScriptErrorCode.values)}")
    clean = {"error_code": code}
    for key, limit in (("script_name", 500), ("message", 4000), ("log_tail", 8192)):
        value = diagnostics.get(key) or ""
        if not isinstance(value, str):
            raise BadRequest(f"diagnostics.{key}", "must be a string")
        clean[key] = value[-limit:] if key == "log_tail" else value[:limit]
    for key in ("started_at", "ended_at"):
        timestamp(body, key)
    return status, clean


def timestamp(body: dict, field: str) -> str:
    """An optional ISO 8601 date and time, such as 2026-01-31T12:00:00Z."""
    value = body.get(field)
    if value is None or value == "":
        return ""
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but impossible, such as month 13
        parsed = None
    if parsed is None:
        raise BadRequest(field, "must be an ISO 8601 date and time, such as 2026-01-31T12:00:00Z")
    return value


MAX_TIMEOUT_ENTRIES = 50


def start_next(body: dict) -> dict | None:
    """`start_next` of a completion: true, or {"timeouts": {event name: seconds}}. The agent's hook
    timeouts for the events it may be handed next; None when the agent did not ask."""
    value = body.get("start_next")
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("start_next", 'must be true or {"timeouts": {event name: seconds}}')
    timeouts = value.get("timeouts") or {}
    if not isinstance(timeouts, dict) or len(timeouts) > MAX_TIMEOUT_ENTRIES:
        raise BadRequest(
            "start_next.timeouts", f"must be an object of at most {MAX_TIMEOUT_ENTRIES} event names"
        )
    clean = {}
    for name, seconds in timeouts.items():
        if len(name) > 64:
            raise BadRequest("start_next.timeouts", "event names are at most 64 characters")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_COUNTER:
            raise BadRequest(
                f"start_next.timeouts.{name}", f"must be a whole number of seconds up to {MAX_COUNTER}"
            )
        if seconds:
            clean[name] = seconds
    return clean


EC2_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


def ec2_instance_id(body: dict) -> str:
    """An optional EC2 instance id, as instance metadata gives it (i-0123456789abcdef0)."""
    value = text(body, "ec2_instance_id", max_length=32)
    if value and not EC2_INSTANCE_ID.match(value):
        raise BadRequest("ec2_instance_id", "must be an EC2 instance id such as i-0123456789abcdef0")
    return value
