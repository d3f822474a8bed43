"""The setup wizard: per-step validation, nothing before Review, all or nothing at Review."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from deployments.models import Application, DeploymentGroup, RegistrationToken
from integrations.models import GitHubConnection, JiraConnection
from projects.models import Membership, Project

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
        ("tracker", {"tracker": "jira"}, "jira_server_url"),
        ("tracker", {"tracker": "jira"}, "jira_token"),
        (
            "tracker",
            {"tracker": "jira", "jira_server_url": "https://acme.atlassian.net", "jira_token": "t"},
            "jira_email",
        ),
        (
            "tracker",
            {"tracker": "jira", "jira_server_url": "not a url", "jira_auth": "pat"},
            "jira_server_url",
        ),
        ("tracker", {"tracker": "bugzilla"}, "tracker"),
        ("repository", {"kind": "github", "api_url": "not a url"}, "api_url"),
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


def test_an_application_name_another_project_uses_is_accepted_and_says_nothing_of_it(client):
    """Names are per project, and the wizard's project is new: no name can clash, none leaks."""
    Application.objects.create(name="shop-web", project=Project.objects.create(name="Other", slug="other"))
    fill(client, "project", "repository")
    response = post(client, "target")
    assert response.status_code == 302
    assert response["Location"] == "/projects/new/tracker/"
    fill(client, "tracker")
    assert client.post("/projects/new/review/").status_code == 200
    assert Application.objects.get(name="shop-web", project__slug="shop").deployment_groups.count() == 1
    assert Application.objects.filter(name="shop-web").count() == 2


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


def test_the_target_step_shows_the_install_line_without_a_real_token(client):
    fill(client, "project", "repository")
    body = client.get("/projects/new/target/").content.decode()
    assert "curl -fsSL http://testserver/agent/install.sh | sudo sh -s -- --token &lt;token" in body
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
    # A token for the first few hosts: it expires in 7 days (fleets that grow use a token of their own).
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)
    body = response.content.decode()
    assert "expires in 7 days" in body
    assert "curl -fsSL http://testserver/agent/install.sh | sudo sh -s -- --token fdr_" in body
    raw = body.split("--token ")[1].split("<")[0].split()[0]
    assert RegistrationToken.find_usable(raw) == token
    # Shown once: the session is gone and no page renders the raw token again.
    assert client.get("/projects/new/")["Location"] == "/projects/new/project/"
    assert raw not in client.get(f"/p/{project.slug}/").content.decode()


def test_review_creates_nothing_when_the_slug_was_taken_meanwhile(client):
    fill(client)
    Project.objects.create(name="Racer", slug="shop")
    response = client.post("/projects/new/review/")
    assert response.status_code == 400
    assert "is taken" in response.content.decode()
    assert list(Project.objects.values_list("name", flat=True)) == ["Racer"]
    assert not (
        Membership.objects.exists() or Application.objects.exists() or RegistrationToken.objects.exists()
    )


def test_review_is_one_transaction_when_the_last_create_fails(client, monkeypatch):
    fill(client)

    def fail(**fields):
        raise IntegrityError("duplicate token hash")

    monkeypatch.setattr(RegistrationToken, "issue", fail)
    response = client.post("/projects/new/review/")
    assert response.status_code == 400
    assert "Nothing was created" in response.content.decode()
    assert nothing_exists()


def test_review_is_one_transaction_when_a_duplicate_project_slips_in(client, monkeypatch):
    """A race: the slug is taken after the checks but before the insert."""
    from dashboard.views import wizard

    fill(client)
    monkeypatch.setattr(wizard, "_revalidate", lambda state: {})
    Project.objects.create(name="Racer", slug="shop")
    response = client.post("/projects/new/review/")
    assert response.status_code == 400
    assert list(Project.objects.values_list("name", flat=True)) == ["Racer"]
    assert not Membership.objects.exists()
    assert not Application.objects.exists()
    assert not DeploymentGroup.objects.exists()
    assert not RegistrationToken.objects.exists()


JIRA = {
    "tracker": "jira",
    "jira_server_url": "https://acme.atlassian.net",
    "jira_auth": "cloud",
    "jira_email": "bot@acme.example",
    "jira_token": "jira-secret-token-value",
    "jira_jql": "project = SHOP",
}


def session_text(client) -> str:
    return json.dumps(dict(client.session))


def test_github_issues_needs_a_github_repository_from_step_2(client):
    fill(client, "project")
    post(client, "repository", kind="none", repository="")
    fill(client, "target")
    body = client.get("/projects/new/tracker/").content.decode()
    assert "needs a GitHub repository (step 2)" in body
    response = post(client, "tracker", tracker="github")
    assert response.status_code == 200
    assert "GitHub Issues needs a GitHub repository" in response.context["form"].errors["tracker"][0]


def test_github_issues_of_the_linked_repository_become_the_tracker(client):
    fill(client, "project", "repository", "target")
    assert "the issues of acme/shop" in client.get("/projects/new/tracker/").content.decode()
    assert post(client, "tracker", tracker="github").status_code == 302
    assert "GitHub Issues of <code>acme/shop</code>" in client.get("/projects/new/review/").content.decode()
    client.post("/projects/new/review/")
    project = Project.objects.get(slug="shop")
    assert project.issue_tracker == "github"
    connection = GitHubConnection.objects.get(project=project)
    assert connection.repository == "acme/shop" and connection.webhook_secret


def test_a_jira_tracker_is_stored_encrypted_and_its_token_never_shown_again(client):
    fill(client, "project", "repository", "target")
    assert post(client, "tracker", **JIRA).status_code == 302
    assert JIRA["jira_token"] not in session_text(client)  # encrypted in the session too
    revisit = client.get("/projects/new/tracker/").content.decode()
    assert JIRA["jira_token"] not in revisit and "•••• set" in revisit
    # A revisit with the token left blank keeps it.
    assert (
        post(client, "tracker", **{**JIRA, "jira_token": "", "jira_jql": "project = OPS"}).status_code == 302
    )
    review = client.get("/projects/new/review/").content.decode()
    assert "JIRA at <code>https://acme.atlassian.net</code>" in review and JIRA["jira_token"] not in review
    assert nothing_exists() and not JiraConnection.objects.exists()

    done = client.post("/projects/new/review/")
    assert JIRA["jira_token"] not in done.content.decode()
    project = Project.objects.get(slug="shop")
    assert project.issue_tracker == "jira"
    jira = JiraConnection.objects.get(project=project)
    assert (jira.server_url, jira.email, jira.token, jira.jql) == (
        "https://acme.atlassian.net",
        "bot@acme.example",
        JIRA["jira_token"],
        "project = OPS",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM integrations_jiraconnection")
        (stored,) = cursor.fetchone()
    assert stored.startswith("fernet:") and JIRA["jira_token"] not in stored


def test_a_github_token_from_step_2_is_encrypted_and_kept_on_a_revisit(client):
    fill(client, "project")
    assert post(client, "repository", token="ghp-wizard-secret", default_branch="trunk").status_code == 302
    assert "ghp-wizard-secret" not in session_text(client)
    page = client.get("/projects/new/repository/").content.decode()
    assert "ghp-wizard-secret" not in page and "•••• set" in page
    assert post(client, "repository", default_branch="trunk").status_code == 302  # blank token: kept
    fill(client, "target", "tracker")
    assert "token set" in client.get("/projects/new/review/").content.decode()
    client.post("/projects/new/review/")
    github = GitHubConnection.objects.get(project__slug="shop")
    assert (github.token, github.default_branch, github.api_url) == (
        "ghp-wizard-secret",
        "trunk",
        "https://api.github.com",
    )


def test_no_repository_means_no_github_connection(client):
    fill(client, "project")
    post(client, "repository", kind="none", repository="")
    fill(client, "target", "tracker")
    client.post("/projects/new/review/")
    assert Project.objects.filter(slug="shop", repository="").exists()
    assert not GitHubConnection.objects.exists() and not JiraConnection.objects.exists()


def test_a_bad_jira_setting_found_at_review_creates_nothing(client, monkeypatch):
    fill(client, "project", "repository", "target")
    post(client, "tracker", **JIRA)
    from dashboard.views import wizard

    def broken(project, state):
        raise IntegrityError("jira connection clash")

    monkeypatch.setattr(wizard, "_connect", broken)
    assert client.post("/projects/new/review/").status_code == 400
    assert nothing_exists() and not JiraConnection.objects.exists()
