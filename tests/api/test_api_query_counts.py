"""A page costs the same number of queries however many targets or rows it shows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import make_instance

from deployments import engine
from deployments.models import DeploymentConfig, DeploymentGroup, Revision

pytestmark = pytest.mark.django_db


def queries(api_client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api_client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


@pytest.fixture
def deployments_of_3_and_30(application, revision: Revision, project) -> tuple[str, str]:
    config = DeploymentConfig.objects.get(name="CodeDeployDefault.AllAtOnce")
    ids = []
    for role, size in (("small", 3), ("big", 30)):
        group = DeploymentGroup.objects.create(
            application=application,
            name=role,
            deployment_config=config,
            tag_filters=[{"key": "role", "value": role, "type": "KEY_AND_VALUE"}],
        )
        for number in range(size):
            make_instance(f"{role}-{number:02d}", project=project, role=role)
        ids.append(engine.create_deployment(group=group, revision=revision).id)
    return ids[0], ids[1]


def test_deployment_detail_costs_the_same_for_3_and_30_targets(api_client, deployments_of_3_and_30):
    small, big = deployments_of_3_and_30
    body = api_client.get(f"/api/v1/deployments/{big}/").json()
    assert len(body["targets"]) == 30
    assert all(len(t["lifecycle_events"]) == 7 for t in body["targets"])
    assert queries(api_client, f"/api/v1/deployments/{small}/") == queries(
        api_client, f"/api/v1/deployments/{big}/"
    )


def test_deployment_list_costs_the_same_for_3_and_30_targets(api_client, deployments_of_3_and_30):
    one_small = queries(api_client, "/api/v1/deployments/?deployment_group=shop/small")
    one_big = queries(api_client, "/api/v1/deployments/?deployment_group=shop/big")
    both = queries(api_client, "/api/v1/deployments/")
    assert one_small == one_big == both
    rows = api_client.get("/api/v1/deployments/").json()["results"]
    assert sorted(r["overview"]["Pending"] for r in rows) == [3, 30]


def test_deployment_group_list_costs_the_same_for_more_groups(
    api_client, deployments_of_3_and_30, application
):
    two = queries(api_client, "/api/v1/applications/shop/deployment-groups/")
    DeploymentGroup.objects.create(
        application=application,
        name="third",
        deployment_config=DeploymentConfig.objects.first(),
        tag_filters=[{"key": "role", "value": "x", "type": "KEY_AND_VALUE"}],
    )
    assert queries(api_client, "/api/v1/applications/shop/deployment-groups/") == two
