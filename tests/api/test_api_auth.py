from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from rest_framework.exceptions import PermissionDenied
from rest_framework.test import APIClient

from deployments import access
from projects.models import ApiToken

pytestmark = pytest.mark.django_db

URLS = [
    "/api/v1/applications/",
    "/api/v1/deployments/",
    "/api/v1/deployment-configs/",
    "/api/v1/instances/",
    "/api/v1/registration-tokens/",
]


@pytest.mark.parametrize("url", URLS)
def test_it_answers_401_with_a_token_challenge_to_anonymous_requests(url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_it_refuses_anonymous_writes_with_401():
    response = APIClient().post("/api/v1/applications/", {"name": "shop", "project": "team"}, format="json")
    assert response.status_code == 401


def test_it_refuses_a_bad_token():
    client = APIClient(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/applications/").status_code == 401


def test_it_refuses_a_key_that_is_not_a_personal_token_saying_where_to_get_one():
    response = APIClient(HTTP_AUTHORIZATION="Token " + "0" * 40).get("/api/v1/applications/")
    assert response.status_code == 401
    assert "/profile/tokens/" in response.json()["detail"]


def test_it_accepts_a_token(user):
    _, raw = ApiToken.issue(user, "ci")
    client = APIClient(HTTP_AUTHORIZATION=f"Token {raw}")
    response = client.post("/api/v1/applications/", {"name": "shop", "project": "team"}, format="json")
    assert response.status_code == 201
    assert response.json()["created_by"] == "alice"


def test_it_accepts_a_session(user):
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/v1/applications/").status_code == 200


def test_require_refuses_anonymous_and_inactive_users(user, django_user_model):
    from django.contrib.auth.models import AnonymousUser

    access.require(user, access.DEPLOY)
    with pytest.raises(PermissionDenied):
        access.require(AnonymousUser(), access.VIEW)
    user.is_active = False
    with pytest.raises(PermissionDenied):
        access.require(user, access.VIEW)


def test_require_rejects_unknown_actions(user):
    with pytest.raises(ValueError, match="unknown action"):
        access.require(user, "fly")


def test_createapitoken_issues_a_hashed_personal_token_and_rotate_revokes_the_old_one(user, capsys):
    call_command("createapitoken", "alice")
    first = capsys.readouterr().out.strip()
    assert first.startswith("fdp_")
    assert not ApiToken.objects.filter(token_hash=first).exists()  # only the hash is stored
    assert ApiToken.objects.get(user=user).token_hash == ApiToken.hash(first)
    call_command("createapitoken", "alice", "--rotate")
    rotated = capsys.readouterr().out.strip()
    assert rotated != first
    assert APIClient(HTTP_AUTHORIZATION=f"Token {rotated}").get("/api/v1/applications/").status_code == 200
    assert APIClient(HTTP_AUTHORIZATION=f"Token {first}").get("/api/v1/applications/").status_code == 401


def test_createapitoken_can_issue_a_token_that_expires(user, capsys):
    call_command("createapitoken", "alice", "--expires-in-days", "7")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(token_hash=ApiToken.hash(raw))
    assert token.expires_at is not None
    with pytest.raises(CommandError, match="1 or more"):
        call_command("createapitoken", "alice", "--expires-in-days", "0")


def test_createapitoken_says_when_the_user_does_not_exist():
    with pytest.raises(CommandError, match="No user named 'bob'"):
        call_command("createapitoken", "bob")
