"""The per-deployment event log: every state change and log line, numbered 1, 2, 3… per deployment.

The model and its writer live together here, below the state machines that record every move in it
(`deployment.py`); `deployments.eventlog` is the name the rest of the code uses.

Rows are written first, inside the caller's transaction, and announced on Redis after commit.
Sequence numbers come from one UPDATE … RETURNING on the deployment row, which also holds the row
lock until commit, so rows become visible in sequence order and a reader never sees seq N+1 before N.
"""

from __future__ import annotations

import contextlib
import threading

from django.db import connection, models, transaction
from django.utils import timezone

from .. import realtime, signals
from .choices import EntryKind


class DeploymentEvent(models.Model):
    """The append-only log of a deployment: state changes and hook output, numbered per deployment."""

    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="event_log"
    )
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    instance = models.CharField(max_length=100, blank=True)
    event = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deployment_id", "seq"]
        constraints = [
            # Also the index behind "events after seq N" for live pages and the API.
            models.UniqueConstraint(fields=["deployment", "seq"], name="event_log_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id}#{self.seq} {self.kind}"

    def as_dict(self) -> dict:
        out = {"seq": self.seq, "kind": self.kind, "at": self.created_at.isoformat()}
        for key in ("instance", "event", "status", "error_code", "message"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.data:
            out.update(self.data)
        return out


_FIELDS = ("instance", "event", "status", "error_code", "message")
_batches = threading.local()


def entry(kind: str, **fields) -> dict:
    fields["kind"] = kind
    return fields


@contextlib.contextmanager
def batched(deployment_id: str):
    """Inside a transaction: hold this deployment's entries and write them in one go on the way out
    (one sequence update, one insert, one announcement), in the order they were appended. append()
    returns 0 for held entries. Nothing is written if the block raises."""
    held: list[dict] = []
    outer = getattr(_batches, "current", None)
    _batches.current = (str(deployment_id), held)
    try:
        yield
    finally:
        _batches.current = outer
    append(deployment_id, held)


def append(deployment_id: str, entries: list[dict]) -> int:
    """Store entries under fresh sequence numbers; return the last one. Call inside a transaction."""
    if not entries:
        return 0
    batch = getattr(_batches, "current", None)
    if batch is not None and batch[0] == str(deployment_id):
        batch[1].extend(entries)
        return 0
    table = DeploymentEvent._meta.get_field("deployment").related_model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET event_seq = event_seq + %s WHERE id = %s RETURNING event_seq",  # noqa: S608
            [len(entries), deployment_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise LookupError(f"deployment {deployment_id} does not exist")
    last = row[0]
    first = last - len(entries) + 1
    now = timezone.now()
    rows = []
    for offset, item in enumerate(entries):
        item = dict(item)
        kind = item.pop("kind")
        columns = {name: item.pop(name, "") or "" for name in _FIELDS}
        rows.append(
            DeploymentEvent(
                deployment_id=deployment_id,
                seq=first + offset,
                kind=kind,
                data=item,
                created_at=now,
                **columns,
            )
        )
    DeploymentEvent.objects.bulk_create(rows)
    transaction.on_commit(lambda: realtime.publish_deployment(deployment_id, last))
    changes = [r for r in rows if r.kind in (EntryKind.DEPLOYMENT, EntryKind.TARGET)]
    if changes:
        transaction.on_commit(lambda: _announce(deployment_id, changes))
    return last


def _announce(deployment_id: str, rows: list[DeploymentEvent]) -> None:
    for row in rows:
        signals.deployment_changed.send(
            sender=DeploymentEvent,
            deployment_id=deployment_id,
            kind=row.kind,
            status=row.status,
            instance=row.instance,
        )


def since(deployment_id: str, after: int, limit: int = 500) -> list[DeploymentEvent]:
    return list(
        DeploymentEvent.objects.filter(deployment_id=deployment_id, seq__gt=after).order_by("seq")[:limit]
    )
