"""The deployment detail page: everything rendered on the server, then kept current by deployment.js."""

from __future__ import annotations

from collections import Counter, defaultdict

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from deployments import engine, integration_points
from deployments.durations import between, human
from deployments.models import (
    DEPLOYMENT_TERMINAL,
    Deployment,
    DeploymentEvent,
    DeploymentTarget,
    LifecycleEvent,
    TargetStatus,
)
from projects.models import Role

from .common import can_deploy, deployment_in, get_project_for_user
from .logview import render_lines

TARGET_ORDER = [s.value for s in TargetStatus]
DONE = {TargetStatus.SUCCEEDED, TargetStatus.FAILED, TargetStatus.SKIPPED, TargetStatus.UNKNOWN}
# A host's log starts open only while it runs or when it failed; deployment.js keeps it so live.
OPEN_LOG = {TargetStatus.IN_PROGRESS, TargetStatus.FAILED}


def _deployments():
    return Deployment.objects.select_related(
        "application",
        "deployment_group",
        "deployment_config",
        "revision",
        "created_by",
        "rollback_of",
        "rolled_back_by",
    )


def _targets(deployment: Deployment) -> list[DeploymentTarget]:
    events = LifecycleEvent.objects.order_by("position")
    return list(
        DeploymentTarget.objects.filter(deployment=deployment)
        .select_related("instance")
        .prefetch_related(Prefetch("events", queryset=events))
        .order_by("position")
    )


def _logs(deployment: Deployment, cursor: int) -> dict[tuple[str, str], list[tuple]]:
    """(seq, message, data, created_at) of each line, by host and event. Only rows up to the page's
    cursor: the stream sends everything after it, so no line shows twice. Tuples, not instances:
    a wide rollout has thousands of lines, and building a model for each cost more than the query."""
    rows = (
        DeploymentEvent.objects.filter(deployment=deployment, kind="log", seq__lte=cursor)
        .values_list("instance", "event", "seq", "message", "data", "created_at")
        .order_by("seq")
    )
    out: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for instance, event, *line in rows:
        out[(instance, event)].append(line)
    return out


def _batches(targets: list[DeploymentTarget]) -> list[dict]:
    by_batch: dict[int, list[DeploymentTarget]] = defaultdict(list)
    for target in targets:
        by_batch[target.batch].append(target)
    out = []
    for number in sorted(by_batch):
        members = by_batch[number]
        counts = Counter(t.status for t in members)
        total = len(members)
        done = sum(counts[s] for s in DONE)
        out.append(
            {
                "number": number + 1,
                "index": number,
                "hosts": [t.instance.name for t in members],
                "total": total,
                "done": done,
                "state": batch_state(counts, done, total),
                "segments": [
                    (status, counts[status], round(100 * counts[status] / total, 2))
                    for status in ("Succeeded", "Failed", "Unknown", "Skipped", "InProgress")
                    if counts[status]
                ],
            }
        )
    return out


def batch_state(counts: Counter, done: int, total: int) -> str:
    """running while any host in it runs; done when every host is; waiting before it starts.
    deployment.js computes the same from the hosts' live statuses."""
    if counts[TargetStatus.IN_PROGRESS]:
        return "running"
    return "done" if done == total else "waiting"


def build_context(deployment: Deployment) -> dict:
    # The cursor is read first: anything newer reaches the page through the stream.
    cursor = deployment.event_seq
    targets = _targets(deployment)
    logs = _logs(deployment, cursor)
    hosts, failures, event_names = [], [], {}
    for target in targets:
        name = target.instance.name
        events = []
        failed = False
        for event in target.events.all():
            lines = logs.get((name, event.name), [])
            row = {
                "event": event,
                "duration": between(event.started_at, event.ended_at),
                "lines": render_lines(lines) if lines else "",
            }
            events.append(row)
            event_names.setdefault(event.name, None)
            if event.status == "Failed" or event.error_code not in ("", "Success"):
                failures.append({"host": name, "event": event})
                failed = True
        hosts.append(
            {
                "target": target,
                "name": name,
                "events": events,
                "duration": between(target.started_at, target.ended_at),
                "open": target.status in OPEN_LOG or failed,
            }
        )
    counts = Counter(t.status for t in targets)
    return {
        "deployment": deployment,
        "cursor": cursor,
        "plan": engine.deployment_plan(deployment),
        "hosts": hosts,
        "event_names": list(event_names),
        "batches": _batches(targets),
        "overview": [(status, counts[status]) for status in TARGET_ORDER],
        "failures": failures,
        "duration": human(deployment.duration),
        "now": timezone.now(),
        "terminal": deployment.status in DEPLOYMENT_TERMINAL,
        "log_retention_days": settings.LOG_RETENTION_DAYS,
    }


def _integration_links(deployment: Deployment) -> dict:
    """Linked JIRA/GitHub issues (one query, only when there are any) and the commit's page."""
    links = integration_points.issue_links(deployment.pk) if deployment.has_issue_links else []
    for link in links:
        # Only web links become hrefs: the URL came from an outside server.
        if not link["url"].startswith(("https://", "http://")):
            link["url"] = ""
    return {"issue_links": links, "commit_url": integration_points.commit_url(deployment.revision)}


@login_required
@require_safe
def detail(request, slug: str, deployment_id: str):
    project, membership = get_project_for_user(request, slug)
    deployments = _deployments().annotate(has_issue_links=integration_points.has_issue_links())
    deployment = deployment_in(project, deployment_id, deployments)
    context = build_context(deployment)
    context.update(_integration_links(deployment))
    context.update(project=project, membership=membership, can_deploy=can_deploy(membership))
    return render(request, "deployments/detail.html", context)


@login_required
@require_POST
def stop(request, slug: str, deployment_id: str):
    project, _ = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    deployment = deployment_in(project, deployment_id)
    if engine.request_stop(deployment.pk, by=request.user.get_username()):
        messages.info(request, f"Stopping {deployment.pk}: hosts not yet started are skipped.")
    else:
        messages.error(request, f"{deployment.pk} already finished; there is nothing to stop.")
    return redirect("deployment_detail", slug=project.slug, deployment_id=deployment.pk)


@login_required
@require_POST
def continue_(request, slug: str, deployment_id: str):
    """Blue/green: move traffic to the replacements now."""
    project, _ = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    deployment = deployment_in(project, deployment_id)
    if engine.continue_deployment(deployment.pk):
        messages.info(request, f"Rerouting traffic to the replacements of {deployment.pk}.")
    else:
        messages.error(request, f"{deployment.pk} is not waiting in Ready; there is nothing to continue.")
    return redirect("deployment_detail", slug=project.slug, deployment_id=deployment.pk)


@login_required
@require_POST
def redeploy(request, slug: str, deployment_id: str):
    """Redeploy starts nothing by itself: it opens New deployment filled in with this deployment's
    settings and its plan, so the user sees which hosts roll in which batches before it starts."""
    project, _ = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    old = deployment_in(project, deployment_id)
    response = redirect("deployment_create", slug=project.slug)
    response["Location"] += f"?redeploy={old.pk}"
    return response
