"""Inputs PostgreSQL refuses get a 400 naming the field, not a 500 (found probing beyond schemathesis).

NUL (0x00) is fine in SQLite but makes PostgreSQL fail any query that carries it, lookups included;
numbers past a 32-bit column fail any database. CI runs these against PostgreSQL.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from deployments.models import Application, DeploymentConfig
from projects.models import Membership, Project, Role

NUL = "a\x00b"


@pytest.fixture
def owner(db, user):
    project = Project.objects.create(name="Team", slug="team", created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    Application.objects.create(name="shop", project=project, created_by=user)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("post", "/api/v1/applications/", {"name": "shop2", "project": NUL}, "project"),
        (
            "post",
            "/api/v1/deployments/",
            {"application": NUL, "deployment_group": "web", "revision": 1},
            None,
        ),
        ("post", "/api/v1/deployment-plans/", {"application": "shop", "deployment_group": NUL}, None),
        ("post", "/api/v1/projects/team/members/", {"username": NUL, "role": "viewer"}, None),
        ("post", "/api/v1/registration-tokens/", {"project": NUL}, None),
        ("get", "/api/v1/applications/?project=" + NUL, None, None),
        ("get", "/api/v1/deployments/?application=" + NUL, None, None),
        ("get", "/api/v1/applications/a%00b/", None, None),
        ("get", "/api/v1/deployment-configs/a%00b/", None, None),
        ("get", "/api/v1/instances/a%00b/", None, None),
        ("get", "/api/v1/projects/team/members/a%00b/", None, None),
    ],
)
def test_a_nul_character_anywhere_gets_no_5xx_and_any_4xx_has_a_message(owner, method, url, body, field):
    response = getattr(owner, method)(url, body, format="json") if body is not None else owner.get(url)
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert response.json()["detail"]
    if field is not None:
        assert response.status_code == 400
        assert field in response.json()["errors"]


@pytest.mark.parametrize("value", [2**31, 10**30])
def test_a_host_count_past_a_32_bit_column_is_a_400(owner, value):
    body = {"name": "big", "minimum_healthy_hosts": {"type": "HOST_COUNT", "value": value}}
    response = owner.post("/api/v1/deployment-configs/", body, format="json")
    assert response.status_code == 400
    assert "minimum_healthy_hosts" in response.json()["errors"]
    assert not DeploymentConfig.objects.filter(name="big").exists()
