"""Personal API tokens (fdp_…, stored hashed) are the only API tokens; createapitoken issues them too."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from projects.models import ApiToken

pytestmark = pytest.mark.django_db


def test_a_personal_token_works_and_records_its_last_use(user):
    token, raw = ApiToken.issue(user, "ci")
    response = APIClient(HTTP_AUTHORIZATION=f"Token {raw}").get("/api/v1/projects/")
    assert response.status_code == 200
    assert [p["slug"] for p in response.json()["results"]] == ["team"]
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_it_is_stored_hashed(user):
    token, raw = ApiToken.issue(user, "ci")
    assert raw.startswith("fdp_")
    assert token.prefix == raw[:8]
    stored = list(ApiToken.objects.values_list("name", "token_hash", "prefix"))
    assert all(raw not in str(value) for row in stored for value in row)


def test_a_revoked_token_gets_401(user):
    token, raw = ApiToken.issue(user, "ci")
    token.revoke()
    response = APIClient(HTTP_AUTHORIZATION=f"Token {raw}").get("/api/v1/applications/")
    assert response.status_code == 401


def test_an_unknown_personal_token_gets_401():
    assert APIClient(HTTP_AUTHORIZATION="Token fdp_nope").get("/api/v1/applications/").status_code == 401
