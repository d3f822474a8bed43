"""Celery entry points. Thin: they take ids, hold no state, and may run twice."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from . import engine

log = logging.getLogger(__name__)

RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    # Celery rounds the factor to whole seconds (at least 1): full jitter, 0-1 s, 0-2 s, 0-4 s ... capped at 10 s.
    "retry_backoff": 1,
    "retry_backoff_max": 10,
    "max_retries": 8,
    "acks_late": True,
}


class ResentBySweep(Task):
    """A task the sweep sends again while it still matters (`engine.re_advance_stalled`).

    It is queued after its caller's rows are committed, so with the broker down, failing the
    caller (an agent's completion, a user's deploy) would only make it retry or duplicate work.
    """

    def apply_async(self, *args, **kwargs):
        try:
            return super().apply_async(*args, **kwargs)
        except BrokerError as exc:
            log.warning("could not queue %s (%s); the sweep will send it again", self.name, exc)
            return None


@shared_task(base=ResentBySweep, **RETRY)
def advance_deployment(deployment_id: str) -> None:
    engine.advance(deployment_id)


@shared_task(base=ResentBySweep, **RETRY)
def start_next_queued(group_id: int) -> None:
    engine.start_next_queued(group_id)


@shared_task(base=ResentBySweep, **RETRY)
def fetch_revision(revision_id: int) -> None:
    from .fetching import fetch

    fetch(revision_id)


@shared_task(**RETRY)
def sweep() -> dict:
    return {**engine.sweep(), "re_advanced": engine.re_advance_stalled()}


@shared_task(**RETRY)
def roll_back(deployment_id: str) -> str | None:
    from .rollback import roll_back as do_roll_back

    return do_roll_back(deployment_id)


@shared_task(**RETRY)
def update_new_instance(instance_id: int) -> list[str]:
    from .rollback import update_new_instance as do_update

    return do_update(instance_id)


@shared_task(**RETRY)
def run_server_event(event_id: int) -> None:
    from .server_events import run

    run(event_id)


@shared_task(**RETRY)
def poll_alarms() -> int:
    from .alarms import poll_all

    return poll_all()


@shared_task(**RETRY)
def provision_replacements(deployment_id: str) -> None:
    from .bluegreen import start_provisioning

    start_provisioning(deployment_id)


@shared_task(**RETRY)
def check_provisioning(deployment_id: str) -> None:
    from .bluegreen import check_provisioning as check

    check(deployment_id)


@shared_task(**RETRY)
def cleanup() -> dict:
    """The daily retention pass (beat). Idempotent: a retry or a second run finishes what one began."""
    from .retention import cleanup as run_cleanup

    return run_cleanup().as_dict()
