"""The one place the rollout core sends Celery tasks: by name, so no rollout module imports
`deployments.tasks` (which imports the rollout modules), and routing by name in settings sees them all.

A send inside a transaction waits for its commit: a task must never see rows that may yet roll back.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

log = logging.getLogger(__name__)

# The task names are part of the deployment contract (Celery routes and the beat schedule use them).
ADVANCE = "deployments.tasks.advance_deployment"
START_NEXT_QUEUED = "deployments.tasks.start_next_queued"
FETCH_REVISION = "deployments.tasks.fetch_revision"
ROLL_BACK = "deployments.tasks.roll_back"
RUN_SERVER_EVENT = "deployments.tasks.run_server_event"
PROVISION_REPLACEMENTS = "deployments.tasks.provision_replacements"
CHECK_PROVISIONING = "deployments.tasks.check_provisioning"

# Tasks the sweep sends again while they still matter (`sweep.re_advance_stalled`). They are sent
# after their caller's rows are committed, so with the broker down, failing the caller (an agent's
# completion, a user's deploy) would only make it retry or duplicate work: the send is logged instead.
RESENT_BY_SWEEP = frozenset({ADVANCE, START_NEXT_QUEUED, FETCH_REVISION})

_coalescing = threading.local()  # the deployments a batch of agent calls already asked to advance


def send(name: str, *args) -> None:
    """Send a task now. A registered task goes through its own `apply_async` (so eager mode and its
    options hold); an unregistered name is sent to the broker as it is."""
    try:
        current_app.signature(name, args=args).apply_async()
    except BrokerError as exc:
        if name not in RESENT_BY_SWEEP:
            raise
        log.warning("could not queue %s (%s); the sweep will send it again", name, exc)


def after_commit(name: str, *args) -> None:
    """Send a task once the caller's transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: send(name, *args))


def advance(deployment_id: str) -> None:
    """Ask for `advance_deployment` after commit; inside `one_advance_each()` at most once per deployment."""
    batch = getattr(_coalescing, "advances", None)
    if batch is not None:
        # A batch of agent calls that ends many hosts asks for one advance, not one per host
        # (advance looks at the whole deployment anyway); it is asked for when the block ends.
        batch.setdefault(deployment_id, None)
        return
    after_commit(ADVANCE, deployment_id)


@contextlib.contextmanager
def one_advance_each():
    """Within the block (one transaction of agent calls), coalesce `advance` per deployment. The
    sends are registered as the block ends, after the block's event-log rows, so their announcements
    (triggers, live pages) run before an advance that may finish the deployment: InstanceSuccess
    before DeploymentSuccess."""
    _coalescing.advances = {}
    try:
        yield
        wanted = list(_coalescing.advances)
    finally:
        _coalescing.advances = None  # before the commit runs the on-commit hooks
    for deployment_id in wanted:
        after_commit(ADVANCE, deployment_id)
