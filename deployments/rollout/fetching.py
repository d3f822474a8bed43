"""Revisions the server fetches before any host may download them: a GitHub commit's archive.

Hosts never receive an integration secret, so they cannot download from GitHub themselves. Instead a
deployment of a GitHub revision whose archive the server does not hold yet waits in Queued while a
worker fetches it once, with the project's token (`integration_points.fetch_revision`), into the revision's
storage, exactly where an upload goes (`Revision.bundle`, `size`, `sha256`). Then the deployment starts
and its hosts download the archive from the server with their own credential, like an upload.

A slow GitHub holds up that deployment only, never a web request. A fetch that fails fails the
deployments waiting for it, with REVISION_MISSING (GitHub would not hand it over) or INVALID_REVISION
(what it handed over is not a usable bundle), and the message says why.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from .. import integration_points
from ..integration_points import RevisionUnavailable
from ..models import Deployment, DeploymentGroup, DeploymentStatus, ErrorCode, Revision, RevisionSource
from . import dispatch

log = logging.getLogger(__name__)

# How long one worker's claim on a fetch lasts: past the download's own deadline (30 minutes), so a
# second worker (the sweep re-sends the task while a deployment waits) never fetches the same archive
# alongside; a worker that died mid-fetch holds its deployments up this long at most.
CLAIM_SECONDS = 2100


def must_fetch(revision: Revision) -> bool:
    return revision.source == RevisionSource.GITHUB and not revision.bundle


def too_large(revision: Revision) -> str:
    """Why the revision is over FLEETDECK_MAX_BUNDLE_SIZE (the operator may have lowered it since
    the revision was added); "" when it is not."""
    limit = settings.MAX_BUNDLE_SIZE
    if revision.size <= limit:
        return ""
    return (
        f"{revision.display_name} is {revision.size} bytes, larger than this server's limit of {limit} "
        "bytes (FLEETDECK_MAX_BUNDLE_SIZE). Make the bundle smaller, or ask the operator to raise the limit."
    )


def ready_to_start(deployment: Deployment) -> bool:
    """Called by `rollout.creation.start`, under the group lock, before it starts a deployment.

    False when the deployment must not start now: it failed (its bundle is over the size limit), or it
    waits in Queued for the server to fetch its revision, which is asked for here."""
    revision = deployment.revision
    reason = too_large(revision)
    if reason:
        deployment.move_to(DeploymentStatus.FAILED, error_code=ErrorCode.INVALID_REVISION, message=reason)
        _start_next_after_commit(deployment.deployment_group_id)
        return False
    if not must_fetch(revision):
        return True
    if deployment.status != DeploymentStatus.QUEUED:
        deployment.move_to(
            DeploymentStatus.QUEUED,
            message=f"Waiting for the server to fetch {revision.display_name}'s archive from GitHub",
        )
    request_fetch(revision.pk)
    return False


def request_fetch(revision_id: int) -> None:
    dispatch.after_commit(dispatch.FETCH_REVISION, revision_id)


def fetch(revision_id: int) -> None:
    """The task: fetch the archive unless it is held or being fetched, then start (or fail) the
    deployments waiting for it. Safe to run twice: a held archive is not fetched again."""
    revision = Revision.objects.filter(pk=revision_id).first()
    if revision is None:
        return
    if must_fetch(revision):
        claim = f"revision-fetch:{revision_id}:{revision.created_at.timestamp()}"  # this row's, only
        if not _claim(claim):
            return  # another worker is fetching it, and starts the deployments when it is done
        try:
            integration_points.fetch_revision(revision)
        except RevisionUnavailable as exc:
            log.warning("revision %s not fetched: %s", revision_id, exc.message)
            _fail_waiting(revision_id, exc.code, exc.message)
            return
        finally:
            _release(claim)
    _start_waiting(revision_id)


def _waiting_groups(revision_id: int) -> list[int]:
    return list(
        Deployment.objects.filter(revision_id=revision_id, status=DeploymentStatus.QUEUED)
        .values_list("deployment_group_id", flat=True)
        .distinct()
    )


def _start_waiting(revision_id: int) -> None:
    for group_id in _waiting_groups(revision_id):
        dispatch.send(dispatch.START_NEXT_QUEUED, group_id)


def _fail_waiting(revision_id: int, code: str, message: str) -> None:
    for group_id in _waiting_groups(revision_id):
        with transaction.atomic():
            # The group lock first, as the engine takes it, then each waiting deployment's.
            DeploymentGroup.objects.select_for_update().filter(pk=group_id).first()
            waiting = Deployment.objects.select_for_update().filter(
                deployment_group_id=group_id, revision_id=revision_id, status=DeploymentStatus.QUEUED
            )
            for deployment in waiting:
                deployment.move_to(DeploymentStatus.FAILED, error_code=code, message=message)
        dispatch.send(dispatch.START_NEXT_QUEUED, group_id)


def _start_next_after_commit(group_id: int) -> None:
    dispatch.after_commit(dispatch.START_NEXT_QUEUED, group_id)


def _claim(key: str) -> bool:
    try:
        return bool(cache.add(key, 1, timeout=CLAIM_SECONDS))
    except Exception as exc:  # the cache is Redis: down, a second fetch is only wasted work
        log.warning("no claim %s (%s); fetching anyway", key, exc)
        return True


def _release(key: str) -> None:
    try:
        cache.delete(key)
    except Exception as exc:
        log.warning("claim %s not released (%s); it expires by itself", key, exc)
