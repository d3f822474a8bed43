"""A failed "Test connection" says what to fix, against the local fake GitHub and JIRA servers, and
never shows the raw exception (class names, urllib3's pool text, what the remote server answered)."""

from __future__ import annotations

import socket

import pytest
from django.test import Client
from factories import make_github, make_jira, make_member, make_project

pytestmark = pytest.mark.django_db

RAW = ("Exception", "HTTPConnectionPool", "Max retries", "Errno", "urllib3", "{'message'", "Traceback")


@pytest.fixture
def owner():
    project = make_project("shop")
    client = Client()
    client.force_login(make_member(project, "olivia", "owner"))
    client.project = project
    return client


def failures(client, kind: str) -> dict[str, str]:
    """Check name -> detail of each failed check on the results page."""
    response = client.post(f"/integrations/p/shop/{kind}/test/")
    assert response.status_code == 200
    results = response.context["results"]
    html = response.content.decode()
    for raw in RAW:
        assert raw not in html, f"{raw!r} leaked into the page"
    return {r.name: r.detail for r in results if not r.ok}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_github_token_refused_with_401_asks_for_a_new_token(owner, github):
    make_github(owner.project, github.url)
    github.fail_status = 401
    failed = failures(owner, "github")
    assert "Token" in failed
    assert "GitHub refused the token" in failed["Token"] and "new token" in failed["Token"]


def test_a_github_403_names_the_permission_the_token_needs(owner, github):
    make_github(owner.project, github.url)
    github.fail_status = 403
    failed = failures(owner, "github")
    assert "permission" in failed["Repository"] and "Contents" in failed["Repository"]


def test_an_unknown_github_repository_says_check_the_name_or_the_token_access(owner, github):
    make_github(owner.project, github.url, repository="acme/nope")
    failed = failures(owner, "github")
    assert set(failed) == {"Repository"}
    assert "acme/nope" in failed["Repository"]
    assert "spelling" in failed["Repository"] and "access" in failed["Repository"]


def test_a_missing_default_branch_says_which_branch_to_set(owner, github):
    make_github(owner.project, github.url, default_branch="nope")
    failed = failures(owner, "github")
    assert set(failed) == {"Default branch"}
    assert "no branch nope" in failed["Default branch"] and "Default branch" in failed["Default branch"]


def test_a_host_name_that_does_not_resolve_says_check_the_url(owner, monkeypatch):
    make_github(owner.project, "https://github.invalid/api/v3")
    real = socket.getaddrinfo

    def no_such_name(host, *args, **kwargs):
        if host == "github.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    failed = failures(owner, "github")
    assert "github.invalid" in failed["Repository"] and "does not resolve" in failed["Repository"]
    assert "API URL" in failed["Repository"]


def test_a_refused_connection_says_nothing_answers_at_that_address(owner):
    port = closed_port()
    make_jira(owner.project, f"http://127.0.0.1:{port}")
    failed = failures(owner, "jira")
    assert f"127.0.0.1:{port}" in failed["Credentials"]
    assert "Nothing answers" in failed["Credentials"] and "Server URL" in failed["Credentials"]


def test_a_timeout_says_the_server_did_not_answer_in_time(owner, jira, settings):
    settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT = 0.3
    make_jira(owner.project, jira.url)
    jira.delay = 1.0
    failed = failures(owner, "jira")
    assert "did not answer within" in failed["Credentials"]


def test_tls_trouble_says_check_the_scheme_and_certificate(owner, github):
    # The fake speaks plain HTTP: an https:// URL fails in the TLS handshake.
    make_github(owner.project, github.url.replace("http://", "https://"))
    failed = failures(owner, "github")
    assert "TLS" in failed["Repository"] and "certificate" in failed["Repository"]


def test_an_address_the_outbound_policy_blocks_names_the_operator_setting(owner, github, settings):
    settings.OUTBOUND_ALLOW = []
    make_github(owner.project, github.url)
    failed = failures(owner, "github")
    assert "loopback" in failed["Repository"] and "FLEETDECK_OUTBOUND_ALLOW" in failed["Repository"]
    assert not github.requests


def test_jira_credentials_refused_with_401_say_which_fields_to_check(owner, jira):
    make_jira(owner.project, jira.url, auth="cloud", email="ops@example.com")
    jira.fail_status = 401
    failed = failures(owner, "jira")
    assert "JIRA refused the credentials" in failed["Credentials"]
    assert "email" in failed["Credentials"] and "API token" in failed["Credentials"]


def test_a_jira_404_says_the_server_url_is_not_a_jira_server(owner, jira):
    make_jira(owner.project, jira.url + "/wiki")
    failed = failures(owner, "jira")
    assert "No JIRA REST API" in failed["Credentials"] and "Server URL" in failed["Credentials"]


def test_a_jira_403_says_the_account_lacks_permission(owner, jira):
    make_jira(owner.project, jira.url)
    jira.fail_status = 403
    failed = failures(owner, "jira")
    assert "permission" in failed["Credentials"]


def test_a_server_error_says_try_again_later(owner, github):
    make_github(owner.project, github.url)
    github.fail_status = 502
    failed = failures(owner, "github")
    assert "HTTP 502" in failed["Repository"] and "try again" in failed["Repository"].lower()
