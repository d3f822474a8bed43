"""The deployment detail page: everything rendered on the server, then kept current by deployment.js."""

from __future__ import annotations

from collections import Counter, defaultdict

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from deployments import engine, integration_points
from deployments.durations import between, human
from deployments.engine import DeploymentError
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

TARGET_ORDER = [s.value for s in TargetStatus]
DONE = {TargetStatus.SUCCEEDED, TargetStatus.FAILED, TargetStatus.SKIPPED, TargetStatus.UNKNOWN}


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


def _logs(deployment: Deployment, cursor: int) -> dict[tuple[str, str], list[DeploymentEvent]]:
    # Only rows up to the page's cursor: the stream sends everything after it, so no line shows twice.
    rows = (
        DeploymentEvent.objects.filter(deployment=deployment, kind="log", seq__lte=cursor)
        .only("seq", "instance", "event", "message", "data")
        .order_by("seq")
    )
    out: dict[tuple[str, str], list[DeploymentEvent]] = defaultdict(list)
    for row in rows:
        out[(row.instance, row.event)].append(row)
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
        out.append(
            {
                "number": number + 1,
                "index": number,
                "hosts": [t.instance.name for t in members],
                "total": total,
                "done": sum(counts[s] for s in DONE),
                "segments": [
                    (status, counts[status], round(100 * counts[status] / total, 2))
                    for status in ("Succeeded", "Failed", "Unknown", "Skipped", "InProgress")
                    if counts[status]
                ],
            }
        )
    return out


def build_context(deployment: Deployment) -> dict:
    # The cursor is read first: anything newer reaches the page through the stream.
    cursor = deployment.event_seq
    targets = _targets(deployment)
    logs = _logs(deployment, cursor)
    hosts, failures = [], []
    for target in targets:
        name = target.instance.name
        events = []
        for event in target.events.all():
            row = {
                "event": event,
                "duration": between(event.started_at, event.ended_at),
                "lines": logs.get((name, event.name), []),
            }
            events.append(row)
            if event.status == "Failed" or event.error_code not in ("", "Success"):
                failures.append({"host": name, "event": event})
        hosts.append(
            {
                "target": target,
                "name": name,
                "events": events,
                "duration": between(target.started_at, target.ended_at),
            }
        )
    counts = Counter(t.status for t in targets)
    return {
        "deployment": deployment,
        "cursor": cursor,
        "plan": engine.deployment_plan(deployment),
        "hosts": hosts,
        "batches": _batches(targets),
        "overview": [(status, counts[status]) for status in TARGET_ORDER],
        "failures": failures,
        "duration": human(deployment.duration),
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
    project, _ = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    old = deployment_in(project, deployment_id, _deployments())
    try:
        new = engine.create_deployment(
            group=old.deployment_group,
            revision=old.revision,
            config=old.deployment_config,
            user=request.user,
            description=f"Redeploy of {old.pk}",
            file_exists_behavior=old.file_exists_behavior,
            ignore_application_stop_failures=old.ignore_application_stop_failures,
        )
    except DeploymentError as exc:
        messages.error(request, exc.message)
        return redirect("deployment_detail", slug=project.slug, deployment_id=old.pk)
    messages.info(request, f"Redeploying {old.revision.display_name} as {new.pk}.")
    return redirect("deployment_detail", slug=project.slug, deployment_id=new.pk)
