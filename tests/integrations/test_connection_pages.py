"""Connection, trigger, EC2 and delivery pages: owners only, secrets never rendered, test connection."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from django.test import Client
from factories import (
    GITHUB_TOKEN,
    JIRA_TOKEN,
    WEBHOOK_SECRET,
    client_for,
    make_app,
    make_github,
    make_group,
    make_jira,
    make_member,
    make_project,
)

from integrations.models import GitHubConnection, JiraConnection, Trigger

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Page:
    path: str
    method: str = "get"


PAGES = [
    Page("/integrations/p/shop/"),
    Page("/integrations/p/shop/github/"),
    Page("/integrations/p/shop/jira/"),
    Page("/integrations/p/shop/aws/"),
    Page("/integrations/p/shop/deliveries/"),
    Page("/integrations/p/shop/triggers/new/"),
    Page("/integrations/p/shop/github/test/", "post"),
    Page("/integrations/p/shop/github/delete/", "post"),
    Page("/integrations/p/shop/github/new-secret/", "post"),
]


@pytest.fixture
def project():
    return make_project("shop")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.method} {p.path}")
@pytest.mark.parametrize("role", ["contributor", "viewer"])
def test_it_refuses_members_below_owner(project, page, role):
    response = getattr(client_for(make_member(project, role, role)), page.method)(page.path)
    assert response.status_code == 403


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.method} {p.path}")
def test_it_hides_the_project_from_outsiders(project, page):
    make_project("other")
    outsider = make_member(make_project("elsewhere"), "mallory", "owner")
    response = getattr(client_for(outsider), page.method)(page.path)
    assert response.status_code == 404


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.method} {p.path}")
def test_it_sends_anonymous_visitors_to_log_in(project, page):
    response = getattr(Client(), page.method)(page.path)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("path", [p.path for p in PAGES if p.method == "get"])
def test_owners_see_every_page(project, path):
    assert client_for(make_member(project, "olivia", "owner")).get(path).status_code == 200


def test_an_owner_connects_github_and_the_secrets_never_come_back(project, caplog):
    caplog.set_level(logging.DEBUG)
    owner = client_for(make_member(project, "olivia", "owner"))
    app = make_app(project=project)
    make_group(app, "production")
    response = owner.post(
        "/integrations/p/shop/github/",
        {
            "repository": "acme/shop",
            "default_branch": "main",
            "token": GITHUB_TOKEN,
            "webhook_secret": WEBHOOK_SECRET,
            "api_url": "https://api.github.com",
            "deployments_api": "on",
            "rules": "main: shop/production",
        },
    )
    assert response.status_code == 302
    connection = GitHubConnection.objects.get(project=project)
    assert connection.token == GITHUB_TOKEN
    assert [(r.branch, r.group.name) for r in connection.rules.all()] == [("main", "production")]
    html = owner.get("/integrations/p/shop/github/").content.decode()
    assert "•••• set" in html
    assert GITHUB_TOKEN not in html and WEBHOOK_SECRET not in html
    assert "main: shop/production" in html
    assert GITHUB_TOKEN not in caplog.text and WEBHOOK_SECRET not in caplog.text


def test_a_blank_secret_field_keeps_the_stored_secret(project):
    owner = client_for(make_member(project, "olivia", "owner"))
    make_github(project, "https://api.github.com")
    response = owner.post(
        "/integrations/p/shop/github/",
        {
            "repository": "acme/other",
            "default_branch": "main",
            "token": "",
            "webhook_secret": "",
            "api_url": "https://api.github.com",
        },
    )
    assert response.status_code == 302
    connection = GitHubConnection.objects.get(project=project)
    assert connection.repository == "acme/other"
    assert connection.token == GITHUB_TOKEN and connection.webhook_secret == WEBHOOK_SECRET


def test_a_rule_naming_an_unknown_group_is_refused_with_the_choices(project):
    owner = client_for(make_member(project, "olivia", "owner"))
    make_group(make_app(project=project), "production")
    response = owner.post(
        "/integrations/p/shop/github/",
        {
            "repository": "acme/shop",
            "default_branch": "main",
            "api_url": "https://api.github.com",
            "rules": "main: shop/nope",
        },
    )
    assert response.status_code == 200
    assert "shop/production" in response.content.decode()
    assert not GitHubConnection.objects.exists()


def test_jira_cloud_needs_an_email(project):
    owner = client_for(make_member(project, "olivia", "owner"))
    response = owner.post(
        "/integrations/p/shop/jira/",
        {
            "server_url": "https://acme.atlassian.net",
            "auth": "cloud",
            "token": JIRA_TOKEN,
            "jql": "project = SHOP",
        },
    )
    assert response.status_code == 200
    assert not JiraConnection.objects.exists()
    assert JIRA_TOKEN not in response.content.decode()


def test_test_connection_reports_each_check_without_the_token(project, github, caplog):
    caplog.set_level(logging.DEBUG)
    owner = client_for(make_member(project, "olivia", "owner"))
    make_github(project, github.url, default_branch="nope")
    html = owner.post("/integrations/p/shop/github/test/").content.decode()
    assert "Authenticated as fleetdeck-bot" in html
    assert "acme/shop is readable" in html
    assert 'data-ok="false"' in html  # the default branch "nope" does not exist
    assert GITHUB_TOKEN not in html
    assert GITHUB_TOKEN not in caplog.text
    assert github.requests_to("GET", "/user")[0].headers["authorization"] == f"token {GITHUB_TOKEN}"


def test_test_connection_says_what_failed_when_the_server_errors(project, github):
    owner = client_for(make_member(project, "olivia", "owner"))
    make_github(project, github.url)
    github.fail_status = 500
    html = owner.post("/integrations/p/shop/github/test/").content.decode()
    assert "HTTP 500" in html and 'data-ok="true"' not in html


def test_jira_test_connection_works_with_a_personal_access_token(project, jira):
    owner = client_for(make_member(project, "olivia", "owner"))
    make_jira(project, jira.url)
    html = owner.post("/integrations/p/shop/jira/test/").content.decode()
    assert "Authenticated as Fleetdeck Bot" in html and 'data-ok="false"' not in html
    assert jira.requests[0].headers["authorization"] == f"Bearer {JIRA_TOKEN}"
    assert JIRA_TOKEN not in html


def test_an_owner_adds_a_webhook_trigger_and_sees_the_generated_secret_once(project):
    owner = client_for(make_member(project, "olivia", "owner"))
    group = make_group(make_app(project=project))
    response = owner.post(
        "/integrations/p/shop/triggers/new/",
        {
            "group": group.pk,
            "name": "ops",
            "events": ["DeploymentFailure", "InstanceFailure"],
            "kind": "webhook",
            "target": "https://hooks.example/fleetdeck",
            "enabled": "on",
        },
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    trigger = Trigger.objects.get()
    assert trigger.events == ["DeploymentFailure", "InstanceFailure"] and len(trigger.secret) > 20
    shown = response.content.decode()
    assert f'<code id="trigger-secret">{trigger.secret}</code>' in shown
    assert 'data-copy="trigger-secret"' in shown and "X-Fleetdeck-Signature" in shown
    html = owner.get(f"/integrations/p/shop/triggers/{trigger.pk}/").content.decode()
    assert trigger.secret not in html


def test_a_trigger_secret_the_owner_typed_is_not_shown_back(project):
    owner = client_for(make_member(project, "olivia", "owner"))
    group = make_group(make_app(project=project))
    response = owner.post(
        "/integrations/p/shop/triggers/new/",
        {
            "group": group.pk,
            "name": "ops",
            "events": ["DeploymentFailure"],
            "kind": "webhook",
            "target": "https://hooks.example/fleetdeck",
            "secret": WEBHOOK_SECRET,
        },
    )
    assert response.status_code == 302
    assert WEBHOOK_SECRET not in owner.get(response["Location"]).content.decode()


def test_a_generated_github_webhook_secret_is_shown_once_with_where_to_paste_it(project):
    owner = client_for(make_member(project, "olivia", "owner"))
    response = owner.post(
        "/integrations/p/shop/github/",
        {"repository": "acme/shop", "default_branch": "main", "api_url": "https://api.github.com"},
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = GitHubConnection.objects.get(project=project).webhook_secret
    html = response.content.decode()
    assert f'<code id="webhook-secret">{secret}</code>' in html
    assert 'href="https://github.com/acme/shop/settings/hooks/new"' in html
    assert '<code id="webhook-url">http://testserver/integrations/github/shop/webhook</code>' in html
    assert "<code>application/json</code>" in html and 'data-copy="webhook-secret"' in html
    again = owner.get("/integrations/p/shop/github/").content.decode()
    assert secret not in again and "Generate a new webhook secret" in again


def test_a_new_webhook_secret_replaces_the_old_one_and_is_shown_once(project):
    owner = client_for(make_member(project, "olivia", "owner"))
    make_github(project, "https://github.example/api/v3")
    response = owner.post("/integrations/p/shop/github/new-secret/")
    secret = GitHubConnection.objects.get(project=project).webhook_secret
    assert secret != WEBHOOK_SECRET and len(secret) > 20
    html = response.content.decode()
    assert f'<code id="webhook-secret">{secret}</code>' in html
    assert 'href="https://github.example/acme/shop/settings/hooks/new"' in html


@pytest.mark.parametrize("role", ["contributor", "viewer"])
def test_only_owners_generate_a_new_webhook_secret(project, role):
    make_github(project, "https://api.github.com")
    client = client_for(make_member(project, role, role))
    assert client.post("/integrations/p/shop/github/new-secret/").status_code == 403
    assert GitHubConnection.objects.get(project=project).webhook_secret == WEBHOOK_SECRET


def test_help_texts_are_tied_to_their_fields(project):
    owner = client_for(make_member(project, "olivia", "owner"))
    html = owner.get("/integrations/p/shop/github/").content.decode()
    assert 'aria-describedby="id_repository_helptext"' in html
    assert 'id="id_repository_helptext"' in html


def test_a_trigger_of_another_project_is_not_found(project):
    owner = client_for(make_member(project, "olivia", "owner"))
    other = make_project("other")
    trigger = Trigger.objects.create(
        group=make_group(make_app("other", project=other)), name="x", events=[], target="https://x.example"
    )
    assert owner.get(f"/integrations/p/shop/triggers/{trigger.pk}/").status_code == 404
