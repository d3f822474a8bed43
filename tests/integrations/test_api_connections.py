"""/api/v1/projects/{slug}/connections/ and /issue-tracker/: owners only (viewers and contributors
403, a stranger from another project 404 and nothing else), secrets write-only, the pages' checks."""

from __future__ import annotations

import pytest
from factories import (
    AWS_SECRET,
    GITHUB_TOKEN,
    JIRA_TOKEN,
    WEBHOOK_SECRET,
    api_for,
    make_app,
    make_aws,
    make_github,
    make_group,
    make_jira,
    make_member,
    make_project,
)
from rest_framework.test import APIClient

from integrations.models import GitHubConnection, JiraConnection

pytestmark = pytest.mark.django_db

SECRETS = (GITHUB_TOKEN, WEBHOOK_SECRET, JIRA_TOKEN, AWS_SECRET)
BASE = "/api/v1/projects/shop"


@pytest.fixture
def project():
    return make_project("shop")


@pytest.fixture
def owner(project):
    return api_for(make_member(project, "olivia", "owner"))


def no_secret_in(response) -> None:
    body = response.content.decode()
    for secret in SECRETS:
        assert secret not in body


REQUESTS = [
    ("get", "/connections/", None),
    ("get", "/connections/github/", None),
    ("put", "/connections/github/", {"repository": "evil/repo"}),
    ("patch", "/connections/github/", {"repository": "evil/repo"}),
    ("delete", "/connections/github/", None),
    ("post", "/connections/github/test/", None),
    ("get", "/issue-tracker/", None),
    ("put", "/issue-tracker/", {"issue_tracker": "github"}),
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS, ids=lambda v: str(v))
@pytest.mark.parametrize("role", ["viewer", "contributor"])
def test_members_below_owner_are_refused_before_the_body_is_read(project, method, path, body, role):
    make_github(project, "https://api.github.com")
    client = api_for(make_member(project, role, role))
    response = getattr(client, method)(BASE + path, body, format="json")
    assert response.status_code == 403
    assert "owner" in response.json()["detail"]
    no_secret_in(response)
    assert GitHubConnection.objects.get(project=project).repository == "acme/shop"


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS, ids=lambda v: str(v))
def test_a_stranger_from_another_project_learns_nothing(project, method, path, body):
    make_github(project, "https://api.github.com")
    stranger = api_for(make_member(make_project("elsewhere"), "mallory", "owner"))
    response = getattr(stranger, method)(BASE + path, body, format="json")
    missing = getattr(stranger, method)("/api/v1/projects/no-such-project" + path, body, format="json")
    assert response.status_code == missing.status_code == 404
    assert response.json() == missing.json()
    assert GitHubConnection.objects.get(project=project).repository == "acme/shop"


def test_anonymous_callers_are_refused(project):
    assert APIClient().get(BASE + "/connections/").status_code in (401, 403)


def test_the_list_shows_each_connection_without_its_secrets(project, owner):
    make_github(project, "https://api.github.com")
    make_jira(project, "https://jira.example")
    make_aws(project, "")
    response = owner.get(BASE + "/connections/")
    assert response.status_code == 200
    data = response.json()
    no_secret_in(response)
    assert data["github"]["repository"] == "acme/shop"
    assert data["github"]["token_set"] is True and data["github"]["webhook_secret_set"] is True
    assert data["github"]["webhook_url"] == "http://testserver/integrations/github/shop/webhook"
    assert data["jira"]["token_set"] is True and data["aws"]["secret_access_key_set"] is True
    assert data["aws"]["external_id"].startswith("fleetdeck-")
    assert data["issue_tracker"] == ""


def test_put_connects_github_with_auto_deploy_rules_and_the_token_stays_write_only(project, owner):
    make_group(make_app("shop", project=project), "production")
    response = owner.put(
        BASE + "/connections/github/",
        {
            "repository": "acme/shop",
            "token": GITHUB_TOKEN,
            "webhook_secret": WEBHOOK_SECRET,
            "auto_deploy": [{"branch": "main", "application": "shop", "deployment_group": "production"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    no_secret_in(response)
    data = response.json()
    assert data["auto_deploy"] == [
        {"branch": "main", "application": "shop", "deployment_group": "production"}
    ]
    assert data["deployments_api"] is True and data["default_branch"] == "main"
    connection = GitHubConnection.objects.get(project=project)
    assert connection.token == GITHUB_TOKEN and connection.webhook_secret == WEBHOOK_SECRET


def test_patch_changes_only_what_it_names_and_keeps_the_secrets(project, owner):
    make_group(make_app("shop", project=project), "production")
    owner.put(
        BASE + "/connections/github/",
        {
            "repository": "acme/shop",
            "token": GITHUB_TOKEN,
            "auto_deploy": [{"branch": "main", "application": "shop", "deployment_group": "production"}],
        },
        format="json",
    )
    response = owner.patch(BASE + "/connections/github/", {"default_branch": "trunk"}, format="json")
    assert response.status_code == 200
    connection = GitHubConnection.objects.get(project=project)
    assert connection.default_branch == "trunk" and connection.token == GITHUB_TOKEN
    assert connection.repository == "acme/shop" and connection.rules.count() == 1


def test_bad_input_names_the_field_in_the_users_words_and_saves_nothing(project, owner):
    make_group(make_app("shop", project=project), "production")
    response = owner.put(
        BASE + "/connections/github/",
        {
            "repository": "not a repo",
            "auto_deploy": [{"branch": "main", "application": "shop", "deployment_group": "nope"}],
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["repository"] == ['Use "owner/name".']
    assert "shop/production" in errors["auto_deploy"][0]
    assert not GitHubConnection.objects.exists()


def test_unknown_fields_are_refused(project, owner):
    response = owner.put(BASE + "/connections/jira/", {"server": "https://jira.example"}, format="json")
    assert response.status_code == 400 and "server" in response.json()["errors"]


def test_the_outbound_policy_refuses_a_private_jira_server_when_it_is_saved(project, owner, settings):
    settings.OUTBOUND_ALLOW = []
    response = owner.put(
        BASE + "/connections/jira/",
        {"server_url": "http://127.0.0.1:8080", "auth": "pat", "token": JIRA_TOKEN},
        format="json",
    )
    assert response.status_code == 400
    assert "loopback" in response.json()["errors"]["server_url"][0]
    assert not JiraConnection.objects.exists()


def test_delete_removes_the_connection(project, owner):
    make_jira(project, "https://jira.example")
    assert owner.delete(BASE + "/connections/jira/").status_code == 204
    assert not JiraConnection.objects.exists()
    assert owner.delete(BASE + "/connections/jira/").status_code == 404


def test_an_unknown_kind_is_not_found(project, owner):
    assert owner.get(BASE + "/connections/gitlab/").status_code == 404


def test_test_connection_says_what_to_fix(project, owner, github):
    make_github(project, github.url, repository="acme/nope")
    response = owner.post(BASE + "/connections/github/test/")
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] is False
    failed = {c["name"]: c["detail"] for c in data["checks"] if not c["ok"]}
    assert "no repository acme/nope" in failed["Repository"]
    no_secret_in(response)


def test_the_issue_tracker_is_chosen_over_the_api_for(project, owner, github, jira):
    make_github(project, github.url)
    make_jira(project, jira.url)
    response = owner.put(BASE + "/issue-tracker/", {"issue_tracker": "github"}, format="json")
    assert response.status_code == 200 and response.json() == {"issue_tracker": "github"}
    project.refresh_from_db()
    assert project.issue_tracker == "github"


def test_an_unconnected_tracker_cannot_be_chosen(project, owner):
    response = owner.put(BASE + "/issue-tracker/", {"issue_tracker": "jira"}, format="json")
    assert response.status_code == 400
    assert "Connect a JIRA server first" in response.json()["errors"]["issue_tracker"][0]


def test_the_schema_lists_the_integrations_api_without_warnings(owner):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    schema = SchemaGenerator(patterns=None).get_schema(request=None, public=True)
    for path in (
        "/api/v1/projects/{slug}/connections/",
        "/api/v1/projects/{slug}/connections/{kind}/",
        "/api/v1/projects/{slug}/connections/{kind}/test/",
        "/api/v1/projects/{slug}/issue-tracker/",
        "/api/v1/projects/{slug}/triggers/",
        "/api/v1/projects/{slug}/triggers/{id}/",
        "/api/v1/projects/{slug}/triggers/{id}/deliveries/",
        "/api/v1/projects/{slug}/deliveries/",
        "/api/v1/projects/{slug}/github-deliveries/",
        "/api/v1/projects/{slug}/ec2-discovery/",
        "/api/v1/projects/{slug}/ec2-discovery/{application}/{group}/",
    ):
        assert path in schema["paths"], path
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    assert [m for m in messages if "integrations/api/" in m or "connections" in m] == []
