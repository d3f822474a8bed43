"""The per-deployment event log (`models/eventlog.py`): `entry`, `append`, `batched`, `since`."""

from .models.eventlog import append, batched, entry, since

__all__ = ["append", "batched", "entry", "since"]
