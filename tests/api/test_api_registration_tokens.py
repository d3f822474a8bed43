from __future__ import annotations

import pytest

from deployments.models import RegistrationToken

pytestmark = pytest.mark.django_db

URL = "/api/v1/registration-tokens/"


def issue(api_client, **body):
    payload = {
        "project": "team",
        "tags": {"role": "web"},
        "expires_at": None,
        "description": "web fleet",
        **body,
    }
    return api_client.post(URL, payload, format="json")


def test_the_token_is_shown_once_and_never_again(api_client):
    response = issue(api_client)
    assert response.status_code == 201, response.json()
    body = response.json()
    raw = body["token"]
    assert raw.startswith("fdr_")
    assert body["prefix"] == raw[:8]
    assert RegistrationToken.find_usable(raw).pk == body["id"]
    detail = api_client.get(f"{URL}{body['id']}/")
    listing = api_client.get(URL)
    for text in (detail.content.decode(), listing.content.decode()):
        assert raw not in text
    assert "token" not in detail.json()
    assert detail.json()["prefix"] == raw[:8]
    assert detail.json()["tags"] == {"role": "web"}


def test_revoking_makes_the_token_unusable(api_client):
    body = issue(api_client).json()
    response = api_client.post(f"{URL}{body['id']}/revoke/")
    assert response.status_code == 200
    assert response.json()["usable"] is False
    assert response.json()["revoked_at"] is not None
    assert RegistrationToken.find_usable(body["token"]) is None


def test_it_refuses_tags_that_are_not_an_object(api_client):
    response = issue(api_client, tags=["web"])
    assert response.status_code == 400
    assert "tags" in response.json()["errors"]


def test_it_refuses_an_expiry_in_the_past(api_client):
    response = issue(api_client, expires_at="2001-01-01T00:00:00Z")
    assert response.status_code == 400
    assert "expires_at" in response.json()["errors"]
