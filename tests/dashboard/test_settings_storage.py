"""The project Settings page shows an owner how much storage the project uses, and the retention policy."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from factories import deploy, make_group, make_instance, make_revision

from deployments import eventlog, retention
from deployments.models import Application
from projects.models import Membership, Project, Role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def policy(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LOG_RETENTION_DAYS = 90
    settings.DEPLOYMENT_RETENTION_DAYS = None
    settings.KEEP_REVISIONS = 2
    return settings


def project_with(slug: str, *, bundles: list[int], log_lines: int) -> Project:
    """A project with stored bundles of the given sizes and one deployment with `log_lines` lines."""
    project = Project.objects.create(name=slug.title(), slug=slug)
    app = Application.objects.create(name=f"{slug}-app", project=project)
    revisions = []
    for size in bundles:
        revision = make_revision(app, size=size)
        revision.bundle.save("b.zip", ContentFile(b"x" * size))
        revisions.append(revision)
    group = make_group(app, tags={"role": slug})
    instance = make_instance(f"{slug}-1", role=slug)
    instance.project = project
    instance.save()
    deployment = deploy(group, revisions[-1])
    with transaction.atomic():
        eventlog.append(
            deployment.pk,
            [eventlog.entry("log", instance=instance.name, message=f"l{i}") for i in range(log_lines)],
        )
    return project


def test_the_owner_sees_the_projects_log_rows_and_bundle_bytes(client, user):
    shop = project_with("shop", bundles=[1000, 2000, 3000], log_lines=7)
    project_with("other", bundles=[50_000], log_lines=40)  # another project's storage is not counted
    Membership.objects.create(project=shop, user=user, role=Role.OWNER)
    client.force_login(user)

    html = client.get("/p/shop/settings/").content.decode()

    assert 'id="storage"' in html
    assert '<dd id="storage-log-rows">7</dd>' in html
    assert '<dd id="storage-bundles">3 bundles, 6000 bytes (5.9\xa0KB)</dd>' in html
    assert "logs are deleted 90 days after a deployment ends" in html
    assert "the newest 2 bundles of each application" in html
    assert "Finished deployments are kept for ever" in html


def test_pruned_bundles_no_longer_count(client, user):
    shop = project_with("shop", bundles=[1000, 2000, 3000], log_lines=0)
    Membership.objects.create(project=shop, user=user, role=Role.OWNER)
    retention.cleanup()
    client.force_login(user)

    html = client.get("/p/shop/settings/").content.decode()

    assert '<dd id="storage-bundles">2 bundles, 5000 bytes (4.9\xa0KB)</dd>' in html


def test_contributors_do_not_see_the_settings_page(client, django_user_model):
    shop = project_with("shop", bundles=[10], log_lines=1)
    carol = django_user_model.objects.create_user("carol")
    Membership.objects.create(project=shop, user=carol, role=Role.CONTRIBUTOR)
    client.force_login(carol)
    assert client.get("/p/shop/settings/").status_code == 403
