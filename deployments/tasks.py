"""Celery entry points. Thin: they take ids, hold no state, and may run twice.

Their names (`deployments.tasks.<function>`) are what the rollout core sends (`rollout.dispatch`),
what Celery routes by and what the beat schedule names: keep them stable.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import retention
from .rollout import alarms, control, creation, fetching, provision, server_events
from .rollout import sweep as rollout_sweep

RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    # Celery rounds the factor to whole seconds (at least 1): full jitter, 0-1 s, 0-2 s, 0-4 s ... capped at 10 s.
    "retry_backoff": 1,
    "retry_backoff_max": 10,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(**RETRY)
def advance_deployment(deployment_id: str) -> None:
    control.advance(deployment_id)


@shared_task(**RETRY)
def start_next_queued(group_id: int) -> None:
    creation.start_next_queued(group_id)


@shared_task(**RETRY)
def fetch_revision(revision_id: int) -> None:
    fetching.fetch(revision_id)


@shared_task(**RETRY)
def sweep() -> dict:
    return {**rollout_sweep.sweep(), "re_advanced": rollout_sweep.re_advance_stalled()}


@shared_task(**RETRY)
def roll_back(deployment_id: str) -> str | None:
    return creation.roll_back(deployment_id)


@shared_task(**RETRY)
def update_new_instance(instance_id: int) -> list[str]:
    return creation.update_new_instance(instance_id)


@shared_task(**RETRY)
def run_server_event(event_id: int) -> None:
    server_events.run(event_id)


@shared_task(**RETRY)
def poll_alarms() -> int:
    return alarms.poll_all()


@shared_task(**RETRY)
def provision_replacements(deployment_id: str) -> None:
    provision.start_provisioning(deployment_id)


@shared_task(**RETRY)
def check_provisioning(deployment_id: str) -> None:
    provision.check_provisioning(deployment_id)


@shared_task(**RETRY)
def cleanup() -> dict:
    """The daily retention pass (beat). Idempotent: a retry or a second run finishes what one began."""
    return retention.cleanup().as_dict()
