"""The role check comes before payload validation (issue 14, item 10, last bullet).

A viewer who posts a deployment of a revision that does not exist used to get the validation
details (which revision ids exist, which groups, which configs), not the 403. Now every write of the
REST API checks the caller's role in the project the URL, or the body's `project`/`application`,
names before it looks at anything else in the body. The walk covers every API route of the URLConf.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from security_routes import SELF_SERVICE, url_for, walked_routes
from security_world import changed, snapshot

from deployments.models import Deployment

pytestmark = pytest.mark.django_db

WRITES = ("post", "put", "patch", "delete")
API_ROUTES = [r for r in walked_routes() if r.is_api and r.name not in SELF_SERVICE]


def bad_body(world) -> dict:
    """Every field any API write takes, each one wrong: were it validated, each would be a 400."""
    return {
        "project": world.project.slug,
        "application": world.app.name,
        "deployment_group": "zq-no-such-group",
        "revision": 999_999,
        "deployment_config": "zq-no-such-config",
        "name": "not a valid name!",
        "slug": "NOT A SLUG",
        "username": "zq-no-such-user",
        "role": "emperor",
        "tags": "not an object",
        "description": ["not", "text"],
        "minimum_healthy_hosts": {"type": "PERCENTISH", "value": -1},
        "tag_filters": "nope",
        "max_uses": 0,
        "expires_at": "yesterday",
        "s3": {"bucket": ""},
        "file_exists_behavior": "SOMETIMES",
    }


def viewer(world) -> APIClient:
    client = APIClient()
    client.force_authenticate(world.viewer)
    return client


def test_a_viewer_deploying_a_revision_that_does_not_exist_gets_a_403(world):
    body = {"application": world.app.name, "deployment_group": world.group.name, "revision": 999_999}
    response = viewer(world).post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "This needs the contributor role in this project; you are a viewer."}
    assert Deployment.objects.count() == 1  # the seeded one


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda r: r.name)
def test_every_api_write_checks_the_role_before_the_body(route, world):
    url = url_for(route, world)
    client = viewer(world)
    before = snapshot()
    for method in WRITES:
        response = getattr(client, method)(url, bad_body(world), format="json")
        where = f"viewer {method.upper()} {url}"
        if response.status_code == 405:
            continue
        body = response.json()
        assert response.status_code == 403, f"{where}: {response.status_code} {body}"
        assert "errors" not in body and "role" in body["detail"], f"{where}: {body}"
    assert changed(before, snapshot()) == []


def test_a_contributor_issuing_a_registration_token_gets_a_403_whatever_the_body(world):
    client = APIClient()
    client.force_authenticate(world.contributor)
    body = {"project": world.project.slug, "tags": "not an object", "max_uses": 0, "expires_at": "yesterday"}
    response = client.post("/api/v1/registration-tokens/", body, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "This needs the owner role in this project; you are a contributor."}


@pytest.mark.parametrize("who", ["viewer", "contributor"])
def test_a_body_that_does_not_parse_gets_the_role_check_first_and_then_its_own_400(world, who):
    client = APIClient()
    client.force_authenticate(getattr(world, who))
    url = f"/api/v1/applications/{world.app.name}/deployment-groups/"
    response = client.post(url, "{not json", content_type="application/json")
    if who == "viewer":
        assert response.status_code == 403 and "role" in response.json()["detail"]
    else:
        assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]
