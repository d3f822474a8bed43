"""The deployment detail page, its Stop and Redeploy buttons, and their permissions."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import PASSWORD, deploy, finish_host, make_member, make_project, make_revision, make_user
from pages_helpers import deployed, setup_group

from deployments.models import Deployment, Instance

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def project():
    return make_project()


def url(deployment, name="deployment_detail"):
    return reverse(name, args=[deployment.application.project.slug, deployment.pk])


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)


@pytest.mark.parametrize("role", ["owner", "contributor", "viewer"])
def test_members_see_the_deployment_with_its_plan_timeline_and_log(client, project, role):
    deployment = deployed(project)
    login(client, make_member(project, role=role))

    response = client.get(url(deployment))

    assert response.status_code == 200
    html = response.content.decode()
    assert deployment.pk in html
    assert "Batch 1" in html
    assert "BeforeInstall" in html
    assert "line 1 of " in html
    assert f'data-seq="{Deployment.objects.get(pk=deployment.pk).event_seq}"' in html
    assert 'id="log-filter"' in html
    shows_buttons = role != "viewer"
    assert ('id="stop-button"' in html) is shows_buttons
    assert ('id="redeploy-button"' in html) is shows_buttons


def test_an_outsider_gets_a_404(client, project):
    deployment = deployed(project)
    login(client, make_user())
    assert client.get(url(deployment)).status_code == 404


def test_a_deployment_of_another_project_is_a_404(client, project):
    other = deployed(make_project("other"))
    login(client, make_member(project, role="owner"))
    assert client.get(reverse("deployment_detail", args=[project.slug, other.pk])).status_code == 404


def test_anonymous_users_are_sent_to_log_in(client, project):
    deployment = deployed(project)
    response = client.get(url(deployment))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_failure_shows_its_diagnostics_and_a_jump_link(client, project):
    deployment = deployed(project, hosts=1)
    instance = Instance.objects.get(targets__deployment=deployment)
    finish_host(instance, "Failed", fail_at="AfterInstall", deployment=deployment)
    login(client, make_member(project, role="viewer"))

    html = client.get(url(deployment)).content.decode()

    assert 'id="first-failure"' in html
    assert "ScriptFailed" in html
    assert "AfterInstall failed with exit code 1" in html
    assert 'href="#first-failure"' in html


def test_a_contributor_stops_a_running_deployment(client, project):
    deployment = deployed(project)
    login(client, make_member(project, role="contributor"))

    response = client.post(url(deployment, "deployment_stop"))

    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.error_code == "MANUAL_STOP"


@pytest.mark.parametrize("action", ["deployment_stop", "deployment_redeploy"])
def test_a_viewer_may_not_stop_or_redeploy(client, project, action):
    deployment = deployed(project)
    login(client, make_member(project, role="viewer"))

    assert client.post(url(deployment, action)).status_code == 403
    deployment.refresh_from_db()
    assert deployment.error_code == ""
    assert Deployment.objects.count() == 1


@pytest.mark.parametrize("action", ["deployment_stop", "deployment_redeploy"])
def test_outsiders_and_anonymous_users_may_not_stop_or_redeploy(client, project, action):
    deployment = deployed(project)
    assert client.post(url(deployment, action)).status_code == 302  # to the login page
    login(client, make_user())
    assert client.post(url(deployment, action)).status_code == 404
    assert Deployment.objects.count() == 1


def test_redeploy_shows_the_plan_first_and_deploys_the_same_revision_and_group_on_confirm(client, project):
    deployment = deployed(project)
    for instance in Instance.objects.filter(targets__deployment=deployment):
        finish_host(instance, deployment=deployment)
    login(client, make_member(project, role="owner"))

    response = client.post(url(deployment, "deployment_redeploy"))

    assert Deployment.objects.count() == 1  # nothing starts before the user has seen the plan
    preview = client.get(response["Location"])
    html = preview.content.decode()
    assert 'id="plan-preview"' in html and 'id="deploy-button"' in html
    assert f"Redeploy of {deployment.pk}" in html
    form = preview.context["form"]
    confirm = client.post(
        reverse("deployment_create", args=[project.slug]),
        {**{k: "" if v is None else v for k, v in form.data.items()}, "action": "deploy"},
    )
    new = Deployment.objects.exclude(pk=deployment.pk).get()
    assert confirm["Location"] == url(new)
    assert (new.revision_id, new.deployment_group_id) == (
        deployment.revision_id,
        deployment.deployment_group_id,
    )


def test_get_is_not_allowed_on_stop(client, project):
    deployment = deployed(project)
    login(client, make_member(project, role="owner"))
    assert client.get(url(deployment, "deployment_stop")).status_code == 405


# Session, user, project, membership, deployment, targets, events, log rows, plan.
DETAIL_QUERIES = 9


def _queries(client, deployment) -> int:
    path = url(deployment)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_the_query_count_does_not_grow_with_hosts_events_or_log_lines(client, project):
    small, large = deployed(project, hosts=3), deployed(project, hosts=30)
    login(client, make_member(project, role="viewer"))
    _queries(client, small)  # warm-up: sessions, content types

    assert _queries(client, small) == _queries(client, large) == DETAIL_QUERIES


def test_a_queued_deployment_renders_without_targets(client, project):
    app, group, _ = setup_group(project)
    from factories import deploy, make_revision

    deploy(group, make_revision(app))
    queued = deploy(group, make_revision(app))
    assert queued.status == "Queued"
    login(client, make_member(project, role="viewer"))
    html = client.get(url(queued)).content.decode()
    assert "Queued" in html
    assert "No instances are part of this deployment yet." in html


def test_a_rollback_and_the_deployment_it_rolls_back_link_to_each_other(client, project):
    app, group, hosts = setup_group(project, hosts=1)
    good = deploy(group, make_revision(app))
    finish_host(hosts[0], deployment=good)
    bad = deploy(group, make_revision(app), auto_rollback_events=["DEPLOYMENT_FAILURE"])
    finish_host(hosts[0], "Failed", deployment=bad)
    rollback = Deployment.objects.get(rollback_of=bad)
    login(client, make_member(project, role="viewer"))

    page = client.get(url(bad)).content.decode()
    assert "Rolled back by" in page and url(rollback) in page
    page = client.get(url(rollback)).content.decode()
    assert "Rollback of" in page and url(bad) in page


def test_a_contributor_reroutes_a_blue_green_deployment_waiting_in_ready(client, project):
    deployment = deployed(project)
    # Stand-in for a blue/green rollout whose replacements are ready: nothing can be continued here,
    # because it is not waiting in Ready, so the page says so and changes nothing.
    login(client, make_member(project, role="contributor"))
    response = client.post(url(deployment, "deployment_continue"), follow=True)
    assert "not waiting in Ready" in response.content.decode()
    assert "continue-button" not in client.get(url(deployment)).content.decode()
    deployment.refresh_from_db()
    assert deployment.status == "InProgress"


def test_a_viewer_may_not_continue(client, project):
    deployment = deployed(project)
    login(client, make_member(project, role="viewer"))
    assert client.post(url(deployment, "deployment_continue")).status_code == 403
