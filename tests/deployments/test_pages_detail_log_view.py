"""The deployment page as the server renders it: times, batch states, which logs start open, filters.

What the page's script then does with them (the viewer's zone, ticking, follow) is tested in Chromium
in tests/e2e/test_browser_deployment_page.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.urls import reverse
from factories import PASSWORD, finish_host, make_member, make_project
from pages_helpers import deployed

from deployments import eventlog
from deployments.models import DeploymentEvent, Instance

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def project():
    return make_project()


def page(client, project, deployment) -> str:
    assert client.login(username=make_member(project, role="viewer").username, password=PASSWORD)
    response = client.get(reverse("deployment_detail", args=[project.slug, deployment.pk]))
    assert response.status_code == 200
    return response.content.decode()


def log(deployment, host: str, message: str, **data) -> None:
    with transaction.atomic():
        eventlog.append(
            deployment.pk,
            [eventlog.entry("log", instance=host, event="BeforeInstall", message=message, **data)],
        )


def test_each_log_line_shows_the_time_the_agent_read_it_with_utc_to_the_millisecond_as_tooltip(
    client, project
):
    deployment = deployed(project, hosts=1)
    host = deployment.targets.get().instance.name
    log(deployment, host, "migrating <db>", stream="stderr", ts="2026-12-08T09:41:07.123456+00:00")

    html = page(client, project, deployment)

    assert (
        '<span class="ln err" data-seq="{}"><time class="ts" datetime="2026-12-08T09:41:07.123Z" '
        'title="2026-12-08 09:41:07.123 UTC">09:41:07</time><span class="tx">migrating &lt;db&gt;</span>'
    ).format(DeploymentEvent.objects.get(message="migrating <db>").seq) in html


@pytest.mark.parametrize("ts", ['"><script>alert(1)</script>', "2026-12-08T09:41:07+02:00", "", None])
def test_a_line_whose_time_is_not_an_agents_utc_time_shows_when_the_server_stored_it(client, project, ts):
    deployment = deployed(project, hosts=1)
    host = deployment.targets.get().instance.name
    log(deployment, host, "odd time", ts=ts)
    stored = DeploymentEvent.objects.get(message="odd time").created_at.astimezone(UTC)

    html = page(client, project, deployment)

    line = re.search(
        r'<span class="ln" data-seq="\d+">(<time[^>]*>[^<]*</time>)<span class="tx">odd time<', html
    )
    assert line, html
    assert line.group(1) == (
        f'<time class="ts" datetime="{stored:%Y-%m-%dT%H:%M:%S}.{stored.microsecond // 1000:03d}Z" '
        f'title="{stored:%Y-%m-%d %H:%M:%S}.{stored.microsecond // 1000:03d} UTC">{stored:%H:%M:%S}</time>'
    )
    assert "<script>alert" not in html


def test_created_started_and_ended_are_time_elements_in_utc_with_a_utc_tooltip(client, project):
    deployment = deployed(project, hosts=1)
    finish_host(deployment.targets.get().instance, deployment=deployment)
    deployment.refresh_from_db()

    html = page(client, project, deployment)

    for field in ("created_at", "started_at", "ended_at"):
        at: datetime = getattr(deployment, field).astimezone(UTC)
        assert (
            f'<time datetime="{at.isoformat()}" title="{at:%Y-%m-%d %H:%M:%S} UTC" data-local>'
            f"{at:%Y-%m-%d %H:%M:%S} UTC</time>"
        ) in html, field


def _details(html: str) -> dict[str, bool]:
    """Each host's log: open or not."""
    return {
        m.group(1): bool(m.group(2))
        for m in re.finditer(r'<details class="log-host" data-host="([^"]+)"( open)?>', html)
    }


def test_logs_of_running_and_failed_hosts_start_open_and_the_others_closed(client, project):
    deployment = deployed(project, hosts=3)
    ok, bad, running = (
        t.instance for t in deployment.targets.order_by("position").select_related("instance")
    )
    finish_host(ok, deployment=deployment)
    finish_host(bad, "Failed", fail_at="AfterInstall", deployment=deployment)

    html = page(client, project, deployment)

    assert _details(html) == {ok.name: False, bad.name: True, running.name: True}


def test_a_batch_says_whether_it_is_waiting_running_or_done(client, project):
    deployment = deployed(project, hosts=2)
    html = page(client, project, deployment)
    assert re.search(r'class="batch batch-running" data-batch="0" data-state="running"', html)
    assert re.search(r"data-batch-state>Running</span>", html)

    for instance in Instance.objects.filter(targets__deployment=deployment):
        finish_host(instance, deployment=deployment)
    html = page(client, project, deployment)
    assert re.search(r'class="batch batch-done" data-batch="0" data-state="done"', html)


def test_the_log_can_be_filtered_by_each_host_and_each_event(client, project):
    deployment = deployed(project, hosts=2)
    hosts = sorted(deployment.targets.values_list("instance__name", flat=True))

    html = page(client, project, deployment)

    host_select = re.search(r'<select id="log-host-filter">(.*?)</select>', html).group(1)
    event_select = re.search(r'<select id="log-event-filter">(.*?)</select>', html).group(1)
    assert re.findall(r"<option[^>]*>([^<]*)</option>", host_select) == ["All hosts", *hosts]
    events = re.findall(r"<option[^>]*>([^<]*)</option>", event_select)
    assert events[0] == "All events" and "BeforeInstall" in events and "ValidateService" in events
    assert 'id="log-follow"' in html
