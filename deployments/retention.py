"""Retention: the cleanup that keeps the database and bundle storage bounded, and what it never deletes.

Three settings decide what goes (config/settings.py): FLEETDECK_LOG_RETENTION_DAYS (log lines of
finished deployments), FLEETDECK_DEPLOYMENT_RETENTION_DAYS (whole finished deployments) and
FLEETDECK_KEEP_REVISIONS (stored bundles per application). What a running deployment, a rollback or
a new host needs is never deleted (`protected`).

Why it cannot disturb a rollout running at the same time: it only ever deletes rows of finished
deployments, a few thousand rows per statement, each statement its own short transaction, and it
never takes a deployment's or a group's row lock. A bundle is pruned under its revision's row lock,
with the rules checked again inside it; `engine.create_deployment` takes the same lock, so a
deployment created meanwhile either keeps the bundle or is refused with REVISION_MISSING.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Count, QuerySet, Sum, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Length
from django.utils import timezone

from .models import (
    DEPLOYMENT_TERMINAL,
    Deployment,
    DeploymentEvent,
    DeploymentGroup,
    DeploymentStatus,
    DeploymentTarget,
    HostCommand,
    InstanceGroupState,
    LifecycleEvent,
    Revision,
)

log = logging.getLogger(__name__)

# Deployments handled per round, and rows per DELETE: each DELETE is one short transaction.
DEPLOYMENT_BATCH = 50
ROW_CHUNK = 5000
# After each DELETE, rest this many times as long as it took: the cleanup then takes at most about half
# of the database's time, leaving the rest to rollouts running meanwhile (bench/storage.py measures it).
PACE = 1.0


@dataclass
class Protected:
    """What no cleanup may delete: deployment ids and revision ids whose bundles must stay."""

    deployments: set[str] = field(default_factory=set)
    revisions: set[int] = field(default_factory=set)


def protected(application_id: int | None = None) -> Protected:
    """The never-deleted rules, for one application or for all.

    Revisions: those of every deployment not yet finished (queued or running); for each group, the
    revision of its most recent deployment, of its last successful deployment (what rollback and
    new hosts deploy), and of its last successful deployment of another revision (what rollback
    deploys when a redeploy of the last good revision fails). Deployments: those same deployments,
    and any finished deployment an unfinished one links to (the deployment it rolls back).
    """
    deployments = Deployment.objects.all()
    groups = DeploymentGroup.objects.all()
    if application_id is not None:
        deployments = deployments.filter(application_id=application_id)
        groups = groups.filter(application_id=application_id)
    out = Protected()
    unfinished = deployments.exclude(status__in=DEPLOYMENT_TERMINAL)
    out.revisions.update(unfinished.values_list("revision_id", flat=True))
    out.deployments.update(unfinished.exclude(rollback_of=None).values_list("rollback_of_id", flat=True))
    for group_id in groups.values_list("pk", flat=True):
        history = Deployment.objects.filter(deployment_group_id=group_id)
        # Each look-up is served by an index on (deployment_group, [status,] -created_at).
        kept = [history.order_by("-created_at", "-id").values_list("pk", "revision_id").first()]
        successes = history.filter(status=DeploymentStatus.SUCCEEDED).order_by("-ended_at")
        last = successes.values_list("pk", "revision_id").first()
        if last is not None:
            kept.append(last)
            kept.append(successes.exclude(revision_id=last[1]).values_list("pk", "revision_id").first())
        for row in kept:
            if row is not None:
                out.deployments.add(row[0])
                out.revisions.add(row[1])
    return out


@dataclass
class Report:
    """What a cleanup deleted, or would delete with --dry-run."""

    dry_run: bool = False
    log_retention_days: int | None = None
    deployment_retention_days: int | None = None
    keep_revisions: int = 0
    expired_logs: int = 0  # deployments whose log lines went
    log_lines: int = 0
    log_bytes: int = 0
    deployments: int = 0
    deployment_rows: int = 0  # their event-log rows, targets, lifecycle events and commands
    deployment_bytes: int = 0
    bundles: int = 0
    bundle_bytes: int = 0
    kept_bundles: int = 0  # past the newest KEEP_REVISIONS, but still needed
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        verb = "Would delete" if self.dry_run else "Deleted"
        days = self.log_retention_days
        deployments = self.deployment_retention_days
        out = [
            f"Retention: logs {_days(days)} after a deployment ends; finished deployments "
            f"{_days(deployments)}; the newest {self.keep_revisions} bundles per application.",
        ]
        if days is None:
            out.append("Logs: kept (FLEETDECK_LOG_RETENTION_DAYS is never).")
        else:
            out.append(
                f"{verb} the logs of {self.expired_logs} deployments finished over {days} days ago: "
                f"{self.log_lines} log lines, {_bytes(self.log_bytes)}."
            )
        if deployments is None:
            out.append("Deployments: kept (FLEETDECK_DEPLOYMENT_RETENTION_DAYS is never).")
        else:
            out.append(
                f"{verb} {self.deployments} deployments finished over {deployments} days ago: "
                f"{self.deployment_rows} rows, {_bytes(self.deployment_bytes)}."
            )
        out.append(f"{verb} {self.bundles} bundles: {_bytes(self.bundle_bytes)}.")
        if self.kept_bundles:
            out.append(
                f"Kept {self.kept_bundles} older bundles that a running or queued deployment, a rollback "
                "or a group's latest deployment needs."
            )
        if not self.dry_run:
            out.append(f"Took {self.seconds:.1f} s.")
        return out


def _days(days: int | None) -> str:
    return "kept for ever" if days is None else f"kept {days} days"


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n} bytes ({n / size:.1f} {unit})"
    return f"{n} bytes"


def cleanup(
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch: int = DEPLOYMENT_BATCH,
    chunk: int = ROW_CHUNK,
) -> Report:
    """Apply the three retention settings once. Safe to run at any time, twice, or concurrently
    with rollouts; an interrupted run leaves nothing half-done that the next run does not finish."""
    started = time.monotonic()
    now = now or timezone.now()
    report = Report(
        dry_run=dry_run,
        log_retention_days=settings.LOG_RETENTION_DAYS,
        deployment_retention_days=settings.DEPLOYMENT_RETENTION_DAYS,
        keep_revisions=settings.KEEP_REVISIONS,
    )
    keep = protected()
    # Whole deployments first: their log lines then need no separate pass.
    _delete_deployments(report, keep, now, batch, chunk)
    _expire_logs(report, keep, now, batch, chunk)
    _prune_bundles(report, keep)
    report.seconds = time.monotonic() - started
    log.info("cleanup%s: %s", " (dry run)" if dry_run else "", " ".join(report.lines()))
    return report


# --- logs ------------------------------------------------------------------------------------


def _finished_before(cutoff: datetime) -> QuerySet:
    return Deployment.objects.filter(status__in=DEPLOYMENT_TERMINAL, ended_at__lt=cutoff)


def _expire_logs(report: Report, keep: Protected, now: datetime, batch: int, chunk: int) -> None:
    if report.log_retention_days is None:
        return
    due = _finished_before(now - timedelta(days=report.log_retention_days)).filter(log_expired_at=None)
    if report.dry_run:
        # What the deployment pass would delete has no log left to expire by now.
        gone = _deployments_due(report, keep, now)
        if gone is not None:
            due = due.exclude(pk__in=gone.values("pk"))
        report.expired_logs = due.count()
        report.log_lines, report.log_bytes = _size(
            DeploymentEvent.objects.filter(deployment__in=due.values("pk"), kind="log")
        )
        return
    while ids := list(due.order_by("ended_at").values_list("pk", flat=True)[:batch]):
        rows, size = _delete_chunked(DeploymentEvent.objects.filter(deployment_id__in=ids, kind="log"), chunk)
        # After the lines are gone: an interrupted run leaves these due, and the next one finishes them.
        report.expired_logs += Deployment.objects.filter(pk__in=ids, log_expired_at=None).update(
            log_expired_at=now
        )
        report.log_lines += rows
        report.log_bytes += size


# --- whole deployments -----------------------------------------------------------------------


def _deployments_due(report: Report, keep: Protected, now: datetime) -> QuerySet | None:
    if report.deployment_retention_days is None:
        return None
    cutoff = now - timedelta(days=report.deployment_retention_days)
    return _finished_before(cutoff).exclude(pk__in=keep.deployments)


def _delete_deployments(report: Report, keep: Protected, now: datetime, batch: int, chunk: int) -> None:
    due = _deployments_due(report, keep, now)
    if due is None:
        return
    if report.dry_run:
        ids = due.values("pk")
        report.deployments = due.count()
        events, report.deployment_bytes = _size(DeploymentEvent.objects.filter(deployment__in=ids))
        report.deployment_rows = (
            events
            + DeploymentTarget.objects.filter(deployment__in=ids).count()
            + LifecycleEvent.objects.filter(target__deployment__in=ids).count()
            + HostCommand.objects.filter(deployment__in=ids).count()
        )
        return
    while ids := list(due.order_by("ended_at").values_list("pk", flat=True)[:batch]):
        # The bulk goes first, a chunk per transaction: the event log, then commands, events, targets.
        rows, size = _delete_chunked(DeploymentEvent.objects.filter(deployment_id__in=ids), chunk)
        rows += _delete_chunked(HostCommand.objects.filter(deployment_id__in=ids), chunk, measure=False)[0]
        rows += _delete_chunked(
            LifecycleEvent.objects.filter(target__deployment_id__in=ids), chunk, measure=False
        )[0]
        rows += _delete_chunked(DeploymentTarget.objects.filter(deployment_id__in=ids), chunk, measure=False)[
            0
        ]
        with transaction.atomic():
            # Links from rows that stay are cleared by conditional UPDATEs, not by Django's collector
            # (which would write back the ids it read, over a rollout's newer value).
            InstanceGroupState.objects.filter(last_deployment_id__in=ids).update(last_deployment=None)
            Deployment.objects.filter(rollback_of_id__in=ids).update(rollback_of=None)
            deleted = Deployment.objects.filter(pk__in=ids).delete()[1]
        report.deployments += deleted.get(Deployment._meta.label, 0)
        report.deployment_rows += rows
        report.deployment_bytes += size


# --- bundles ---------------------------------------------------------------------------------


def _prune_bundles(report: Report, keep: Protected) -> None:
    newest = report.keep_revisions
    crowded = (
        Revision.objects.exclude(bundle="")
        .values("application_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=newest)
        .values_list("application_id", flat=True)
    )
    for application_id in list(crowded):
        stored = Revision.objects.filter(application_id=application_id).exclude(bundle="")
        older = list(stored.order_by("-created_at", "-pk").values_list("pk", "bundle", "size")[newest:])
        for revision_id, name, size in older:
            if revision_id in keep.revisions:
                report.kept_bundles += 1
                continue
            freed = _file_size(name, size) if report.dry_run else prune_bundle(revision_id)
            if freed is None:
                report.kept_bundles += 1
            else:
                report.bundles += 1
                report.bundle_bytes += freed


def prune_bundle(revision_id: int) -> int | None:
    """Delete one revision's stored bundle unless a rule keeps it; return the bytes freed (None: kept).

    The rules are checked again under the revision's row lock, which deployment creation also takes:
    whichever comes second sees what the first did."""
    storage = Revision._meta.get_field("bundle").storage
    with transaction.atomic():
        revision = Revision.objects.select_for_update().filter(pk=revision_id).exclude(bundle="").first()
        if revision is None or revision.pk in protected(revision.application_id).revisions:
            return None
        name = revision.bundle.name
        size = _file_size(name, revision.size)
        Revision.objects.filter(pk=revision.pk).update(bundle="", bundle_pruned_at=timezone.now())
        transaction.on_commit(lambda: _delete_file(storage, name))
    return size


def _delete_file(storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError as exc:  # the row already says it is gone; a leftover file is only wasted space
        log.warning("could not delete the pruned bundle %s: %s", name, exc)


def _file_size(name: str, recorded: int) -> int:
    storage = Revision._meta.get_field("bundle").storage
    try:
        return storage.size(name)
    except OSError:
        return recorded or 0


def bundle_problem(revision: Revision) -> str | None:
    """Why this revision cannot be deployed from the server's storage (None: it can)."""
    if revision.bundle_pruned_at is not None:
        return (
            f"The bundle of revision {revision.display_name} was deleted on "
            f"{revision.bundle_pruned_at:%Y-%m-%d} to keep storage bounded (FLEETDECK_KEEP_REVISIONS keeps "
            f"the newest {settings.KEEP_REVISIONS} per application, and every one a deployment still "
            "needs). Upload the revision again and deploy the new one."
        )
    if revision.bundle and not revision.bundle.storage.exists(revision.bundle.name):
        return (
            f"The bundle of revision {revision.display_name} is missing from the server's storage "
            "(FLEETDECK_STORAGE_DIR). Upload the revision again and deploy the new one."
        )
    return None


# --- sizes -----------------------------------------------------------------------------------


def _delete_chunked(queryset: QuerySet, chunk: int, measure: bool = True) -> tuple[int, int]:
    """Delete the rows of `queryset` a chunk per statement, each its own transaction; return (rows,
    bytes) deleted. Each DELETE picks its chunk with a subquery (a list of 5,000 ids as parameters
    costs more to send than the delete itself), and on PostgreSQL measures what it deleted as it goes."""
    model = queryset.model
    done = _DELETED_BEFORE.get(model, set())
    if any(rel.related_model not in done for rel in model._meta.related_objects):
        return _delete_collected(queryset, chunk, measure)
    table, pk = (connection.ops.quote_name(name) for name in (model._meta.db_table, model._meta.pk.column))
    rows = size = 0
    while True:
        part = queryset.order_by().values("pk")[:chunk]
        picked, params = part.query.sql_with_params()
        delete = f"DELETE FROM {table} WHERE {pk} IN ({picked})"  # noqa: S608 - names from the model
        started = time.monotonic()
        with transaction.atomic(), connection.cursor() as cursor:
            if measure and connection.vendor == "postgresql":
                measured = f"WITH gone AS ({delete} RETURNING pg_column_size({table}.*) AS size) "
                cursor.execute(measured + "SELECT count(*), coalesce(sum(size), 0) FROM gone", params)  # noqa: S608
                deleted, freed = cursor.fetchone()
            else:
                freed = _size(model.objects.filter(pk__in=part))[1] if measure else 0
                cursor.execute(delete, params)
                deleted = cursor.rowcount
        if not deleted:
            return rows, size
        rows += deleted
        size += int(freed)
        time.sleep(min((time.monotonic() - started) * PACE, 5.0))


# What points at a deployment's lifecycle events and targets; `_delete_deployments` deletes it first.
_DELETED_BEFORE = {LifecycleEvent: {HostCommand}, DeploymentTarget: {LifecycleEvent}}


def _delete_collected(queryset: QuerySet, chunk: int, measure: bool) -> tuple[int, int]:
    """Through Django's collector, for a model something else points at (a relation added later):
    slower, as it loads every row, but it follows every relation."""
    model = queryset.model
    rows = size = 0
    while ids := list(queryset.order_by().values_list("pk", flat=True)[:chunk]):
        with transaction.atomic():
            part = model.objects.filter(pk__in=ids)
            if measure:
                size += _size(part)[1]
            rows += part.delete()[1].get(model._meta.label, 0)
    return rows, size


def _size(queryset: QuerySet) -> tuple[int, int]:
    """Rows and their bytes: on PostgreSQL each row's own size (pg_column_size), elsewhere the bytes
    of its text columns. Indexes and page overhead come on top (bench/storage.py measures both)."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        each = RawSQL(f"pg_column_size({table}.*)", [], output_field=BigIntegerField())  # noqa: S611
    else:
        each = Length("message") + Length(Cast("data", TextField()))
    totals = queryset.order_by().aggregate(n=Count("pk"), size=Sum(each))
    return totals["n"], int(totals["size"] or 0)


def project_storage(project_id: int) -> dict:
    """What one project keeps: its log lines (rows) and its stored bundles (count and bytes)."""
    bundles = Revision.objects.filter(application__project_id=project_id).exclude(bundle="")
    totals = bundles.aggregate(n=Count("pk"), size=Sum("size"))
    return {
        "log_rows": DeploymentEvent.objects.filter(
            kind="log", deployment__application__project_id=project_id
        ).count(),
        "bundles": totals["n"],
        "bundle_bytes": int(totals["size"] or 0),
        "log_retention_days": settings.LOG_RETENTION_DAYS,
        "deployment_retention_days": settings.DEPLOYMENT_RETENTION_DAYS,
        "keep_revisions": settings.KEEP_REVISIONS,
    }
