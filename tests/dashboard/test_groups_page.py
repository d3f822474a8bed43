"""The Groups page: applications, deployment groups and the project's deployment configurations,
created, edited and deleted from the browser with the API's rules and roles."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from factories import make_app, make_deployment, make_group, make_member, make_project, make_revision

from deployments.models import Application, DeploymentConfig, DeploymentGroup
from projects.models import Role

pytestmark = pytest.mark.django_db

ROLES = (Role.OWNER, Role.CONTRIBUTOR, Role.VIEWER, "outsider")


@pytest.fixture
def project():
    return make_project("shop")


def client_as(project, role: str) -> Client:
    client = Client()
    if role == "outsider":
        from factories import make_user

        client.force_login(make_user(f"olga-{project.slug}"))
    else:
        client.force_login(make_member(project, f"{role}-{project.slug}", role))
    return client


def own_config(project, name="two-healthy", value=2) -> DeploymentConfig:
    return DeploymentConfig.objects.create(
        project=project, name=name, minimum_healthy_type="HOST_COUNT", minimum_healthy_value=value
    )


GROUP_POST = {
    "name": "web",
    "deployment_config": "CodeDeployDefault.OneAtATime",
    "tags": "role=web",
    "file_exists_behavior": "DISALLOW",
}


@pytest.mark.parametrize(
    ("method", "path", "data", "expected"),
    [
        ("get", "/p/shop/groups/", None, (200, 200, 200, 404)),
        ("post", "/p/shop/applications/new/", {"name": "api"}, (302, 302, 403, 404)),
        ("get", "/p/shop/groups/new/", None, (200, 200, 403, 404)),
        ("post", "/p/shop/groups/new/", "group", (302, 302, 403, 404)),
        ("post", "/p/shop/groups/shop-app/web/delete/", None, (302, 302, 403, 404)),
        ("post", "/p/shop/applications/shop-app/delete/", None, (302, 403, 403, 404)),
        (
            "post",
            "/p/shop/configs/new/",
            {
                "config-name": "c2",
                "config-minimum_healthy_type": "HOST_COUNT",
                "config-minimum_healthy_value": "1",
            },
            (302, 302, 403, 404),
        ),
        ("get", "/p/shop/configs/two-healthy/", None, (200, 200, 403, 404)),
        ("post", "/p/shop/configs/two-healthy/delete/", None, (302, 302, 403, 404)),
    ],
)
@pytest.mark.parametrize("index", range(4), ids=ROLES)
def test_each_role_gets_what_the_api_would_give_it(project, method, path, data, expected, index):
    app = make_app("shop-app", project=project)
    make_group(app, "web")
    own_config(project)
    if data == "group":
        data = {**GROUP_POST, "application": app.pk, "name": "api"}
    response = getattr(client_as(project, ROLES[index]), method)(path, data or {})
    assert response.status_code == expected[index], response.content.decode()[:400]


def test_a_contributor_creates_an_application_then_a_group_in_it(project):
    client = client_as(project, Role.CONTRIBUTOR)
    empty = client.get("/p/shop/groups/").content.decode()
    assert "No applications yet" in empty and "Create application" in empty

    created = client.post("/p/shop/applications/new/", {"name": "shop-web"})
    app = Application.objects.get(project=project, name="shop-web")
    assert created["Location"] == f"/p/shop/groups/new/?application={app.pk}"
    form = client.get(created["Location"]).context["form"]
    assert str(form["application"].value()) == str(app.pk)

    response = client.post(
        "/p/shop/groups/new/",
        {
            **GROUP_POST,
            "application": app.pk,
            "tags": "role=web\nand\nenv=prod",
            "file_exists_behavior": "RETAIN",
        },
    )
    assert response["Location"] == "/p/shop/groups/shop-web/web/"
    group = DeploymentGroup.objects.get(application=app, name="web")
    assert group.tag_filters == [] and group.tag_set == [
        [{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}],
        [{"key": "env", "value": "prod", "type": "KEY_AND_VALUE"}],
    ]
    assert group.file_exists_behavior == "RETAIN"
    page = client.get("/p/shop/groups/").content.decode()
    assert "/p/shop/groups/shop-web/web/" in page


def test_a_bad_group_keeps_what_was_typed_and_shows_each_error_by_its_field(project):
    app = make_app("shop-web", project=project)
    make_group(app, "web")
    client = client_as(project, Role.CONTRIBUTOR)
    response = client.post(
        "/p/shop/groups/new/",
        {
            **GROUP_POST,
            "application": app.pk,
            "deployment_config": "CodeDeployDefault.AllAtOnce",
            "tags": "role=",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["tags"] == [
        "Line 1 (“role=”) has no value: write key=value, or just the key for any value."
    ]
    html = response.content.decode()
    # The summary links to each field in error; each message also sits in that field's block.
    assert '<a href="#id_tags">Hosts with these tags: Line 1' in html
    assert re.search(r'class="field has-error">\s*<label for="id_tags">', html)
    assert "selected>CodeDeployDefault.AllAtOnce" in html.replace('value="CodeDeployDefault.AllAtOnce" ', "")
    # Fixing the tags, the API's own rule (unique names) speaks next: on the name field.
    again = client.post(
        "/p/shop/groups/new/",
        {
            **GROUP_POST,
            "application": app.pk,
            "deployment_config": "CodeDeployDefault.AllAtOnce",
            "tags": "role=x",
        },
    )
    assert again.context["form"].errors["name"] == ["shop-web already has a deployment group named web."]
    assert DeploymentGroup.objects.filter(application=app).count() == 1


def test_another_projects_application_and_config_cannot_be_used(project):
    other = make_project("rival")
    rival_app = make_app("rival-app", project=other)
    own_config(other, "rival-config")
    make_app("shop-web", project=project)
    client = client_as(project, Role.OWNER)
    response = client.post(
        "/p/shop/groups/new/",
        {**GROUP_POST, "application": rival_app.pk, "deployment_config": "rival-config"},
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"application", "deployment_config"}
    assert client.get("/p/shop/configs/rival-config/").status_code == 404
    assert client.post("/p/shop/configs/rival-config/delete/").status_code == 404
    assert client.post("/p/shop/applications/rival-app/delete/").status_code == 404
    assert not DeploymentGroup.objects.exists() and Application.objects.filter(project=other).exists()


def test_a_group_with_a_running_deployment_is_not_deleted_and_the_page_says_why(project):
    app = make_app("shop-web", project=project)
    group = make_group(app, "web")
    running = make_deployment(group, make_revision(app), status="InProgress")
    client = client_as(project, Role.CONTRIBUTOR)
    response = client.post("/p/shop/groups/shop-web/web/delete/", follow=True)
    assert f"Deployment {running.pk} is still running" in response.content.decode()
    assert DeploymentGroup.objects.filter(pk=group.pk).exists()
    running.status = "Succeeded"
    running.save(update_fields=["status"])
    client.post("/p/shop/groups/shop-web/web/delete/")
    assert not DeploymentGroup.objects.filter(pk=group.pk).exists()


def test_an_application_with_history_is_kept(project):
    app = make_app("shop-web", project=project)
    make_deployment(make_group(app, "web"), make_revision(app))
    response = client_as(project, Role.OWNER).post("/p/shop/applications/shop-web/delete/", follow=True)
    assert "its history cannot be deleted" in response.content.decode()
    assert Application.objects.filter(pk=app.pk).exists()


def test_configs_are_created_edited_and_deleted_unless_in_use(project):
    client = client_as(project, Role.CONTRIBUTOR)
    bad = client.post(
        "/p/shop/configs/new/",
        {
            "config-name": "half",
            "config-minimum_healthy_type": "FLEET_PERCENT",
            "config-minimum_healthy_value": "120",
        },
    )
    assert bad.status_code == 400
    assert bad.context["config_form"].errors["minimum_healthy_value"] == [
        "FLEET_PERCENT must be between 0 and 99, not 120."
    ]
    assert 'value="120"' in bad.content.decode()
    client.post(
        "/p/shop/configs/new/",
        {
            "config-name": "half",
            "config-minimum_healthy_type": "FLEET_PERCENT",
            "config-minimum_healthy_value": "50",
        },
    )
    config = DeploymentConfig.objects.get(project=project, name="half")
    client.post(
        "/p/shop/configs/half/",
        {"name": "half", "minimum_healthy_type": "HOST_COUNT", "minimum_healthy_value": "3"},
    )
    config.refresh_from_db()
    assert (config.minimum_healthy_type, config.minimum_healthy_value) == ("HOST_COUNT", 3)
    group = make_group(make_app("shop-web", project=project), "web")
    DeploymentGroup.objects.filter(pk=group.pk).update(deployment_config=config)
    refused = client.post("/p/shop/configs/half/delete/", follow=True).content.decode()
    assert "half is used by deployment group(s) shop-web/web" in refused
    assert DeploymentConfig.objects.filter(pk=config.pk).exists()
    # The built-ins are not the project's to change.
    assert client.get("/p/shop/configs/CodeDeployDefault.AllAtOnce/").status_code == 404


def test_destructive_forms_ask_first(project):
    app = make_app("shop-web", project=project)
    make_group(app, "web")
    own_config(project)
    html = client_as(project, Role.OWNER).get("/p/shop/groups/").content.decode()
    forms = re.findall(r'<form method="post" action="([^"]*delete/)"[^>]*data-confirm="([^"]+)"', html)
    assert {action for action, _ in forms} == {
        "/p/shop/applications/shop-app/delete/".replace("shop-app", "shop-web"),
        "/p/shop/groups/shop-web/web/delete/",
        "/p/shop/configs/two-healthy/delete/",
    }
    assert all("?" in question for _, question in forms)
