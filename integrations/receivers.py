"""The receiver on deployments.signals.deployment_changed: the only place integrations hear about deployments.

It runs after commit, inside whatever called the engine, so it only reads a row or two and
enqueues tasks; it never talks to the network and never raises into the engine.
"""

from __future__ import annotations

import logging
import uuid

from django.db.models import Exists, OuterRef

from deployments.models import Deployment

from . import tasks
from .models import GitHubConnection, JiraConnection, Trigger
from .notifications import event_for
from .signals import outside_data_changed

log = logging.getLogger(__name__)


def on_deployment_changed(
    sender, deployment_id: str, kind: str, status: str, instance: str = "", **kwargs
) -> None:
    try:
        dispatch(deployment_id, kind, status, instance or "")
    except Exception:
        log.exception("integrations could not react to %s %s of %s", kind, status, deployment_id)


def dispatch(deployment_id: str, kind: str, status: str, instance: str) -> None:
    rollback = False
    if kind == "deployment":
        info = (
            Deployment.objects.filter(pk=deployment_id)
            .annotate(
                has_github=Exists(
                    GitHubConnection.objects.filter(project_id=OuterRef("application__project_id"))
                ),
                has_jira=Exists(
                    JiraConnection.objects.filter(project_id=OuterRef("application__project_id"))
                ),
            )
            .values("rollback_of_id", "revision__source", "has_github", "has_jira", "application__project_id")
            .first()
        )
        if info is None:
            return
        rollback = info["rollback_of_id"] is not None
        _integrations(tasks, deployment_id, status, info)
    event = event_for(kind, status, rollback=rollback)
    if event is None:
        return
    triggers = Trigger.objects.filter(group__deployments=deployment_id, enabled=True).values_list(
        "id", "events"
    )
    for trigger_id, events in triggers:
        if event in (events or []):
            _enqueue(tasks.deliver_trigger, trigger_id, event, deployment_id, instance, str(uuid.uuid4()))


def _integrations(tasks, deployment_id: str, status: str, info: dict) -> None:
    if not (info["has_github"] or info["has_jira"]):
        return
    if status == "Created":
        _enqueue(tasks.collect_links, deployment_id)
    if info["has_github"] and info["revision__source"] == "github":
        _enqueue(tasks.github_deployment_sync, deployment_id)
    if status == "Succeeded":
        _enqueue(tasks.deployment_succeeded, deployment_id)
        if info["has_github"]:
            # The dashboard's build tile lists each group's deployed commit.
            outside_data_changed.send(sender=Deployment, project_id=info["application__project_id"])


def _enqueue(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception:
        # With eager Celery (tests, the embedded demo) a task's own failure surfaces here.
        log.exception("integrations task %s(%s) failed", task.name, args)
