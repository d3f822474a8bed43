"""Lifecycle events the server performs itself (no agent involved): the HTTP health check.

The slow part runs here, outside any transaction; the result goes through the same path as an
agent's completion (`engine.finish_server_event`).
"""

from __future__ import annotations

from . import engine, healthcheck, lifecycle
from .models import ErrorCode, EventStatus, LifecycleEvent, ScriptErrorCode


def run(event_id: int) -> None:
    event = (
        LifecycleEvent.objects.select_related("target__instance", "target__deployment__deployment_group")
        .filter(pk=event_id)
        .first()
    )
    if event is None or event.status != EventStatus.IN_PROGRESS:
        return
    if event.name == lifecycle.HEALTH_CHECK:
        _health_check(event)
    else:
        engine.finish_server_event(
            event.pk,
            EventStatus.FAILED,
            {
                "error_code": ScriptErrorCode.UNKNOWN_ERROR,
                "message": f"{event.name} needs a traffic router, which this deployment group does not configure.",
            },
        )


def _health_check(event: LifecycleEvent) -> None:
    instance = event.target.instance
    config = event.target.deployment.deployment_group.health_check or {}
    try:
        url = healthcheck.url_for(
            config.get("url", ""), name=instance.name, hostname=instance.hostname, tags=instance.tags
        )
    except ValueError as exc:
        result = healthcheck.Result(False, str(exc), 0, 0.0)
    else:
        result = healthcheck.check(config, url)
    if result.ok:
        engine.finish_server_event(
            event.pk, EventStatus.SUCCEEDED, {"error_code": "Success", "message": result.message}
        )
        return
    engine.finish_server_event(
        event.pk,
        EventStatus.FAILED,
        {"error_code": ScriptErrorCode.SCRIPT_FAILED, "message": result.message},
        # A failed health check stops the rollout, whatever the minimum healthy hosts would allow.
        halt=(ErrorCode.HEALTH_CONSTRAINTS, f"Health check failed on {instance.name}: {result.message}"),
    )
