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


def test_a_token_can_be_limited_to_a_number_of_hosts(api_client):
    body = issue(api_client, max_uses=2).json()
    assert body["max_uses"] == 2 and body["uses"] == 0 and body["usable"] is True
    token = RegistrationToken.objects.get(pk=body["id"])
    assert token.max_uses == 2
    token.uses = 2
    token.save()
    assert api_client.get(f"{URL}{body['id']}/").json()["usable"] is False


@pytest.mark.parametrize("max_uses", [0, -1, "many", 2**31])
def test_it_refuses_a_limit_that_is_not_a_positive_number(api_client, max_uses):
    response = issue(api_client, max_uses=max_uses)
    assert response.status_code == 400
    assert "max_uses" in response.json()["errors"]
    assert not RegistrationToken.objects.exists()


def test_the_owner_sees_which_hosts_each_token_registered(api_client, project):
    from factories import make_instance

    body = issue(api_client).json()
    token = RegistrationToken.objects.get(pk=body["id"])
    other, _ = RegistrationToken.issue(project=project)
    for name, by in (("web-2", token), ("web-1", token), ("db-1", other)):
        instance = make_instance(name, project=project)
        instance.registration_token = by
        instance.save()
    gone = RegistrationToken.objects.get(pk=token.pk).instances.get(name="web-2")
    gone.deregister()
    detail = api_client.get(f"{URL}{body['id']}/").json()
    assert [(i["name"], i["deregistered_at"] is not None) for i in detail["instances"]] == [
        ("web-1", False),
        ("web-2", True),
    ]
    listing = {row["id"]: row for row in api_client.get(URL).json()["results"]}
    assert [i["name"] for i in listing[other.pk]["instances"]] == ["db-1"]
