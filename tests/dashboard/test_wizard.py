"""The setup wizard: per-step validation, nothing before Review, all or nothing at Review."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from dashboard.models import Membership, Project
from deployments.models import Application, DeploymentGroup, RegistrationToken

pytestmark = pytest.mark.django_db

GOOD = {
    "project": {"name": "Shop", "slug": "shop", "description": "The shop", "template": "static-nginx"},
    "repository": {"kind": "github", "repository": "acme/shop"},
    "target": {
        "application": "shop-web",
        "group": "production",
        "tags": "role=web, env=prod",
        "deployment_config": "CodeDeployDefault.HalfAtATime",
    },
    "tracker": {"tracker": "none"},
}


@pytest.fixture
def client(client, user):
    client.force_login(user)
    return client


def post(client, step, **override):
    return client.post(f"/projects/new/{step}/", {**GOOD[step], **override})


def fill(client, *steps):
    for step in steps or GOOD:
        response = post(client, step)
        assert response.status_code == 302, response.content.decode()[:2000]


def nothing_exists():
    return not (
        Project.objects.exists()
        or Membership.objects.exists()
        or Application.objects.exists()
        or DeploymentGroup.objects.exists()
        or RegistrationToken.objects.exists()
    )


def test_it_starts_at_the_first_step(client):
    response = client.get("/projects/new/")
    assert response.status_code == 302
    assert response["Location"] == "/projects/new/project/"
    assert client.get("/projects/new/project/").status_code == 200


def test_anonymous_users_are_sent_to_log_in(db):
    from django.test import Client

    response = Client().get("/projects/new/project/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("step", "override", "field"),
    [
        ("project", {"slug": "Bad Slug!"}, "slug"),
        ("project", {"name": ""}, "name"),
        ("project", {"template": "cobol"}, "template"),
        ("repository", {"kind": "github", "repository": "not-a-repo"}, "repository"),
        ("repository", {"kind": "github", "repository": "a/b/c"}, "repository"),
        ("target", {"tags": "role"}, "tags"),
        ("target", {"tags": "role=web, =x"}, "tags"),
        ("target", {"deployment_config": "CodeDeployDefault.Sometimes"}, "deployment_config"),
        ("target", {"application": "my app!"}, "application"),
        ("tracker", {"tracker": "jira"}, "tracker"),
        ("tracker", {"tracker": "github"}, "tracker"),
    ],
)
def test_each_step_refuses_bad_input(client, step, override, field):
    steps = list(GOOD)
    fill(client, *steps[: steps.index(step)])
    response = post(client, step, **override)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert nothing_exists()


def test_it_refuses_a_slug_that_is_taken(client):
    Project.objects.create(name="Other", slug="shop")
    response = post(client, "project")
    assert "slug" in response.context["form"].errors
    assert "taken" in response.content.decode()


def test_it_refuses_an_application_name_that_is_taken(client):
    Application.objects.create(name="shop-web")
    fill(client, "project", "repository")
    response = post(client, "target")
    assert "application" in response.context["form"].errors


def test_a_later_step_cannot_be_skipped_to(client):
    fill(client, "project")
    response = client.get("/projects/new/target/")
    assert response["Location"] == "/projects/new/repository/"
    assert client.get("/projects/new/review/")["Location"] == "/projects/new/repository/"


def test_revisiting_a_step_keeps_its_data(client):
    fill(client)
    page = client.get("/projects/new/project/")
    assert page.context["form"].initial["slug"] == "shop"
    assert 'value="shop"' in page.content.decode()
    post(client, "project", name="Shop 2")
    review = client.get("/projects/new/review/")
    body = review.content.decode()
    assert "Shop 2" in body and "acme/shop" in body and "role=web, env=prod" in body


def test_the_target_step_shows_the_register_command_without_a_real_token(client):
    fill(client, "project", "repository")
    body = client.get("/projects/new/target/").content.decode()
    assert "fleetdeck-agent register --server http://testserver --token" in body
    assert "--tag role=web" in body
    assert "fdr_" not in body


def test_nothing_is_created_before_review(client):
    fill(client)
    assert client.get("/projects/new/review/").status_code == 200
    assert nothing_exists()


def test_review_creates_everything_and_shows_the_token_once(client, user):
    fill(client)
    response = client.post("/projects/new/review/")
    assert response.status_code == 200
    project = Project.objects.get(slug="shop")
    assert project.repository == "acme/shop"
    assert project.template == "static-nginx"
    assert Membership.objects.get(project=project).user == user
    assert project.role_of(user) == "owner"
    application = Application.objects.get(project=project)
    group = DeploymentGroup.objects.get(application=application)
    assert group.name == "production"
    assert group.deployment_config.name == "CodeDeployDefault.HalfAtATime"
    assert {f["key"]: f["value"] for f in group.tag_filters} == {"role": "web", "env": "prod"}
    token = RegistrationToken.objects.get(project=project)
    assert token.tags == {"role": "web", "env": "prod"}
    body = response.content.decode()
    raw = body.split("--token ")[1].split()[0]
    assert RegistrationToken.find_usable(raw) == token
    assert "--tag role=web --tag env=prod" in body
    # Shown once: the session is gone and no page renders the raw token again.
    assert client.get("/projects/new/")["Location"] == "/projects/new/project/"
    assert raw not in client.get(f"/p/{project.slug}/").content.decode()


def test_review_creates_nothing_when_a_name_was_taken_meanwhile(client):
    fill(client)
    Application.objects.create(name="shop-web")
    response = client.post("/projects/new/review/")
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert not Project.objects.exists()


def test_review_is_one_transaction_when_the_last_create_fails(client, monkeypatch):
    fill(client)

    def fail(**fields):
        raise IntegrityError("duplicate token hash")

    monkeypatch.setattr(RegistrationToken, "issue", fail)
    response = client.post("/projects/new/review/")
    assert response.status_code == 400
    assert "Nothing was created" in response.content.decode()
    assert nothing_exists()


def test_review_is_one_transaction_when_a_duplicate_application_slips_in(client, monkeypatch):
    """A race: the application appears after the checks but before the insert."""
    from dashboard.views import wizard

    fill(client)
    monkeypatch.setattr(wizard, "_revalidate", lambda state: {})
    Application.objects.create(name="shop-web")
    response = client.post("/projects/new/review/")
    assert response.status_code == 400
    assert not Project.objects.exists()
    assert not Membership.objects.exists()
    assert not DeploymentGroup.objects.exists()
    assert not RegistrationToken.objects.exists()


def test_the_tracker_step_shows_integrations_disabled(client):
    fill(client, "project", "repository", "target")
    body = client.get("/projects/new/tracker/").content.decode()
    assert 'value="jira"' in body and "disabled" in body
    assert "needs the JIRA integration" in body
