from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/v1/applications/",
    "/api/v1/applications/{application}/deployment-groups/{name}/",
    "/api/v1/applications/{application}/revisions/",
    "/api/v1/deployments/",
    "/api/v1/deployments/{id}/",
    "/api/v1/deployments/{id}/stop/",
    "/api/v1/deployments/{id}/events/",
    "/api/v1/deployments/{id}/plan/",
    "/api/v1/deployment-plans/",
    "/api/v1/deployment-configs/{name}/",
    "/api/v1/instances/{name}/deregister/",
    "/api/v1/registration-tokens/{id}/revoke/",
]


def test_the_openapi_schema_lists_every_user_api_path(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in PATHS:
        assert path in paths, path


def test_the_schema_generates_without_warnings_for_the_user_api():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    SchemaGenerator(patterns=None).get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    # Views outside deployments/api are other people's; enum naming collisions have no path.
    mine = [m for m in messages if "deployments/api/" in m or "enum naming" in m]
    assert mine == []
