"""Celery entry points. Thin: they take ids, hold no state, and may run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import engine

RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 0.5,
    "retry_backoff_max": 10,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(**RETRY)
def advance_deployment(deployment_id: str) -> None:
    engine.advance(deployment_id)


@shared_task(**RETRY)
def start_next_queued(group_id: int) -> None:
    engine.start_next_queued(group_id)


@shared_task(**RETRY)
def sweep() -> dict:
    return engine.sweep()
