"""A deployment page after retention deleted its log lines: it says so, and still shows what happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from factories import PASSWORD, finish_host, make_member, make_project
from pages_helpers import deployed, log_count

from deployments import retention
from deployments.models import Deployment, Instance, LifecycleEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def project(settings):
    settings.LOG_RETENTION_DAYS = 90
    return make_project()


def url(deployment):
    return reverse("deployment_detail", args=[deployment.application.project.slug, deployment.pk])


def ran(project, days_ago: int) -> Deployment:
    """Two hosts, one of which fails AfterInstall with a log tail; finished `days_ago` days ago."""
    deployment = deployed(project, hosts=2)
    first, second = Instance.objects.filter(targets__deployment=deployment).order_by("name")
    finish_host(first, "Failed", fail_at="AfterInstall", deployment=deployment)
    finish_host(second, deployment=deployment)
    LifecycleEvent.objects.filter(target__deployment=deployment, status="Failed").update(
        log_tail="+ ./scripts/migrate.sh\nERROR: relation users does not exist\n"
    )
    at = timezone.now() - timedelta(days=days_ago)
    Deployment.objects.filter(pk=deployment.pk).update(created_at=at, started_at=at, ended_at=at)
    return deployment


def test_a_page_whose_log_expired_says_so_and_keeps_results_codes_and_diagnostics(client, project):
    deployment = ran(project, days_ago=120)
    assert log_count(deployment) > 0
    retention.cleanup()
    assert log_count(deployment) == 0
    assert client.login(username=make_member(project, role="viewer").username, password=PASSWORD)

    response = client.get(url(deployment))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="log-expired"' in html
    assert "The full log of this deployment expired on" in html
    assert "FLEETDECK_LOG_RETENTION_DAYS" in html
    assert "line 1 of " not in html  # the lines are gone
    # What happened is all still there: statuses, the failing event, its code, message and log tail.
    assert "data-target-status>Failed<" in html
    assert "data-target-status>Succeeded<" in html
    assert "ScriptFailed" in html
    assert "AfterInstall failed with exit code 1" in html
    assert "ERROR: relation users does not exist" in html
    assert 'data-event="ValidateService" data-status="Succeeded"' in html


def test_a_page_whose_log_is_kept_has_no_expiry_note(client, project):
    deployment = ran(project, days_ago=10)
    retention.cleanup()
    assert client.login(username=make_member(project, role="viewer").username, password=PASSWORD)

    html = client.get(url(deployment)).content.decode()

    assert 'id="log-expired"' not in html
    assert "line 1 of " in html
