"""REVISION_MISSING: a bundle the server no longer stores fails the deployment with that code, not
with HEALTH_CONSTRAINTS after every host failed to download it."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from factories import (
    ALL_AT_ONCE,
    deploy,
    finish_host,
    issued,
    make_app,
    make_group,
    make_instance,
    make_revision,
)

from deployments.models import DeploymentEvent, HostCommand

pytestmark = pytest.mark.django_db(transaction=True)

DATA = b"PK\x03\x04 a tiny bundle " * 10


@pytest.fixture
def app(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return make_app()


def stored_revision(app):
    revision = make_revision(app, sha256=hashlib.sha256(DATA).hexdigest(), size=len(DATA))
    revision.bundle.save("bundle.zip", ContentFile(DATA))
    return revision


def test_a_bundle_missing_from_storage_fails_the_deployment_at_start_with_revision_missing(app):
    host = make_instance("web-1", role="web")
    revision = stored_revision(app)
    revision.bundle.storage.delete(revision.bundle.name)

    deployment = deploy(make_group(app, config=ALL_AT_ONCE), revision)

    assert deployment.status == "Failed"
    assert deployment.error_code == "REVISION_MISSING"
    assert f"r{revision.pk}" in deployment.error_message
    assert "upload" in deployment.error_message.lower()
    assert not issued(host)  # no host was touched
    assert not HostCommand.objects.filter(deployment=deployment).exists()
    logged = DeploymentEvent.objects.filter(deployment=deployment, kind="deployment").last()
    assert logged.status == "Failed"
    assert logged.error_code == "REVISION_MISSING"


def test_a_queued_deployment_whose_bundle_vanished_fails_with_revision_missing_when_its_turn_comes(app):
    host = make_instance("web-1", role="web")
    group = make_group(app, config=ALL_AT_ONCE)
    first = deploy(group, stored_revision(app))
    second_revision = stored_revision(app)
    second = deploy(group, second_revision)
    assert second.status == "Queued"
    second_revision.bundle.storage.delete(second_revision.bundle.name)

    finish_host(host, deployment=first)

    second.refresh_from_db()
    assert second.status == "Failed"
    assert second.error_code == "REVISION_MISSING"
    assert not HostCommand.objects.filter(deployment=second).exists()


def test_a_revision_with_its_bundle_in_storage_still_starts(app):
    host = make_instance("web-1", role="web")
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), stored_revision(app))
    assert deployment.status == "InProgress"
    assert [c.lifecycle_event.name for c in issued(host)] == ["ApplicationStop"]
