"""The create form: preview the plan, then deploy; contributors and owners only."""

from __future__ import annotations

import pytest
from django.urls import reverse
from factories import PASSWORD, make_member, make_project, make_revision, make_user
from pages_helpers import setup_group

from deployments.models import Deployment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def project():
    return make_project()


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)


def new_url(project):
    return reverse("deployment_create", args=[project.slug])


@pytest.mark.parametrize("role", ["owner", "contributor"])
def test_contributors_preview_the_plan_then_deploy(client, project, role):
    app, group, instances = setup_group(project, hosts=3)
    older, newest = make_revision(app, description="old"), make_revision(app, description="new")
    login(client, make_member(project, role=role))

    form = client.get(new_url(project)).content.decode()
    revisions = form[form.index('id="id_revision"') :]
    assert revisions.index(f'value="{newest.pk}"') < revisions.index(f'value="{older.pk}"')  # newest first
    assert '<label for="id_revision">' in form

    fields = {"deployment_group": group.pk, "revision": newest.pk, "description": "ship it"}
    preview = client.post(new_url(project), {**fields, "action": "preview"})
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "Batch 1" in html
    assert all(i.name in html for i in instances)
    assert 'id="deploy-button"' in html
    assert not Deployment.objects.exists()

    response = client.post(new_url(project), {**fields, "action": "deploy"})

    deployment = Deployment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("deployment_detail", args=[project.slug, deployment.pk])
    assert (deployment.revision, deployment.deployment_group, deployment.description) == (
        newest,
        group,
        "ship it",
    )
    assert deployment.created_by.get_username().startswith(role)


def test_overrides_reach_the_deployment(client, project):
    app, group, _ = setup_group(project)
    login(client, make_member(project, role="contributor"))
    client.post(
        new_url(project),
        {
            "deployment_group": group.pk,
            "revision": make_revision(app).pk,
            "deployment_config": group.deployment_config.pk,
            "file_exists_behavior": "OVERWRITE",
            "ignore_application_stop_failures": "yes",
            "action": "deploy",
        },
    )
    deployment = Deployment.objects.get()
    assert deployment.file_exists_behavior == "OVERWRITE"
    assert deployment.ignore_application_stop_failures is True


def test_an_invalid_plan_says_why_and_offers_no_deploy_button(client, project):
    app, group, _ = setup_group(project, hosts=0)
    login(client, make_member(project, role="contributor"))
    html = client.post(
        new_url(project),
        {"deployment_group": group.pk, "revision": make_revision(app).pk, "action": "preview"},
    ).content.decode()
    assert "NO_INSTANCES" in html
    assert 'id="deploy-button"' not in html


def test_a_revision_of_another_application_is_refused(client, project):
    _, group, _ = setup_group(project)
    other_app, _, _ = setup_group(project)
    login(client, make_member(project, role="contributor"))
    response = client.post(
        new_url(project),
        {"deployment_group": group.pk, "revision": make_revision(other_app).pk, "action": "deploy"},
    )
    assert response.status_code == 200
    assert "belongs to" in response.content.decode()
    assert not Deployment.objects.exists()


def test_groups_of_another_project_cannot_be_chosen(client, project):
    other_app, other_group, _ = setup_group(make_project("other"))
    login(client, make_member(project, role="owner"))
    response = client.post(
        new_url(project),
        {"deployment_group": other_group.pk, "revision": make_revision(other_app).pk, "action": "deploy"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Deployment.objects.exists()


def test_a_viewer_gets_a_403_for_the_form_and_its_posts(client, project):
    app, group, _ = setup_group(project)
    login(client, make_member(project, role="viewer"))
    assert client.get(new_url(project)).status_code == 403
    fields = {"deployment_group": group.pk, "revision": make_revision(app).pk, "action": "deploy"}
    assert client.post(new_url(project), fields).status_code == 403
    assert not Deployment.objects.exists()


def test_outsiders_get_a_404_and_anonymous_users_log_in(client, project):
    assert client.get(new_url(project)).status_code == 302
    login(client, make_user())
    assert client.get(new_url(project)).status_code == 404
