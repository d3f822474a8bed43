"""Lifecycle events the server performs itself (no agent involved): traffic shifts and the HTTP
health check.

The slow part runs in a worker (`run`), outside any transaction; the result goes through the same
path as an agent's completion (`finish_server_event`, then `results.record_result`).
"""

from __future__ import annotations

from django.db import transaction

from .. import healthcheck, lifecycle, traffic
from ..models import ErrorCode, EventStatus, LifecycleEvent, ScriptErrorCode
from . import results, steps


def run(event_id: int) -> None:
    event = (
        LifecycleEvent.objects.select_related(
            "target__instance", "target__deployment__deployment_group__application"
        )
        .filter(pk=event_id)
        .first()
    )
    if event is None or event.status != EventStatus.IN_PROGRESS:
        return
    if event.name == lifecycle.HEALTH_CHECK:
        _health_check(event)
    else:
        _shift_traffic(event)


def _shift_traffic(event: LifecycleEvent) -> None:
    target = event.target
    deployment = target.deployment
    group = deployment.deployment_group
    instance = target.instance
    action = traffic.ALLOW if event.name == "AllowTraffic" else traffic.BLOCK
    context = {
        "deployment_id": deployment.id,
        "deployment_group_name": group.name,
        "application_name": group.application.name,
        "lifecycle_event": event.name,
    }
    try:
        router = traffic.router_for(group.load_balancer_info, group.application.project_id)
        shift = router.shift(
            action, [traffic.Host(instance.name, instance.hostname, instance.ec2_instance_id)], context
        )
    except traffic.RouterError as exc:
        # Configuration the next host would hit too: stop the deployment with CodeDeploy's code.
        halting = (ErrorCode.ELB_INVALID_INSTANCE, ErrorCode.ELASTIC_LOAD_BALANCING_INVALID)
        halt = (exc.code, exc.message) if exc.code in halting else None
        finish_server_event(
            event.pk,
            EventStatus.FAILED,
            {"error_code": ScriptErrorCode.UNKNOWN_ERROR, "message": exc.message},
            halt=halt,
        )
        return
    except Exception as exc:
        finish_server_event(
            event.pk,
            EventStatus.FAILED,
            {"error_code": ScriptErrorCode.UNKNOWN_ERROR, "message": f"{event.name} failed: {exc}"},
        )
        return
    finish_server_event(
        event.pk,
        EventStatus.SUCCEEDED if shift.ok else EventStatus.FAILED,
        {
            "error_code": "Success" if shift.ok else ScriptErrorCode.UNKNOWN_ERROR,
            "message": shift.message,
            "log_tail": f"waited {shift.wait_seconds:.2f} s for the load balancer",
        },
    )


def _health_check(event: LifecycleEvent) -> None:
    instance = event.target.instance
    config = event.target.deployment.deployment_group.health_check or {}
    try:
        url, peer = healthcheck.target(
            config.get("url", ""),
            name=instance.name,
            hostname=instance.hostname,
            peer_address=instance.peer_address,
            tags=instance.tags,
        )
    except ValueError as exc:
        result = healthcheck.Result(False, str(exc), 0, 0.0)
    else:
        result = healthcheck.check(config, url, peer=peer)
    if result.ok:
        finish_server_event(
            event.pk, EventStatus.SUCCEEDED, {"error_code": "Success", "message": result.message}
        )
        return
    finish_server_event(
        event.pk,
        EventStatus.FAILED,
        {"error_code": ScriptErrorCode.SCRIPT_FAILED, "message": result.message},
        # A failed health check stops the rollout, whatever the minimum healthy hosts would allow.
        halt=(ErrorCode.HEALTH_CONSTRAINTS, f"Health check failed on {instance.name}: {result.message}"),
    )


def finish_server_event(
    event_id: int, status: str, diagnostics: dict, *, halt: tuple[str, str] | None = None
):
    """Record the result of an event the server ran itself. Harmless if it was already recorded."""
    deployment_id = (
        LifecycleEvent.objects.filter(pk=event_id).values_list("target__deployment_id", flat=True).first()
    )
    if deployment_id is None:
        return
    with transaction.atomic():
        deployment = steps.lock(deployment_id)
        event = (
            LifecycleEvent.objects.select_for_update(of=("self",))
            .select_related("target__instance")
            .get(pk=event_id)
        )
        if event.status != EventStatus.IN_PROGRESS:
            return
        if halt is not None and deployment.status in steps.RUNNING:
            deployment.mark_halting(*halt)
        results.record_result(deployment, event, status, diagnostics, None, None)
