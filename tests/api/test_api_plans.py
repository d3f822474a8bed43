"""The reference's 9-instance examples, through the preview and the deployment plan endpoints."""

from __future__ import annotations

import pytest
from api_helpers import PROJECT
from factories import make_fleet

from deployments.models import DeploymentConfig
from projects.models import Project

pytestmark = pytest.mark.django_db

URL = "/api/v1/deployment-plans/"


def preview(api_client, config: str, **extra):
    body = {"application": "shop", "deployment_group": "web", "deployment_config": config, **extra}
    return api_client.post(URL, body, format="json")


@pytest.fixture
def nine(group, project):
    return make_fleet(project, 9, name="web-{:02d}")


def custom(name: str, kind: str, value: int) -> str:
    """A config of the project the `group` fixture's application is in."""
    project = Project.objects.get(slug=PROJECT)
    DeploymentConfig.objects.create(
        name=name, project=project, minimum_healthy_type=kind, minimum_healthy_value=value
    )
    return name


def sizes(plan: dict) -> list[int]:
    return [len(batch) for batch in plan["batches"]]


def test_half_at_a_time_on_nine_instances_is_four_four_one_with_minimum_five(api_client, nine):
    plan = preview(api_client, "CodeDeployDefault.HalfAtATime").json()
    assert plan["valid"] is True
    assert plan["minimum_healthy"] == 5
    assert sizes(plan) == [4, 4, 1]
    assert plan["batches"][0] == ["web-01", "web-02", "web-03", "web-04"]
    assert plan["fleet_size"] == 9


def test_host_count_six_on_nine_instances_goes_three_at_a_time(api_client, nine):
    plan = preview(api_client, custom("six", "HOST_COUNT", 6)).json()
    assert plan["minimum_healthy"] == 6
    assert sizes(plan) == [3, 3, 3]


def test_fleet_percent_forty_on_nine_instances_goes_five_then_four(api_client, nine):
    plan = preview(api_client, custom("forty", "FLEET_PERCENT", 40)).json()
    assert plan["minimum_healthy"] == 4
    assert sizes(plan) == [5, 4]


def test_a_minimum_of_the_whole_fleet_is_an_invalid_plan_not_an_error(api_client, nine):
    response = preview(api_client, custom("nine", "HOST_COUNT", 9))
    assert response.status_code == 200
    plan = response.json()
    assert plan["valid"] is False
    assert plan["error_code"] == "HEALTH_CONSTRAINTS_INVALID"
    assert "not less than the number of instances" in plan["reason"]
    assert plan["batches"] == []


def test_the_group_config_is_used_when_none_is_given(api_client, nine):
    response = api_client.post(URL, {"application": "shop", "deployment_group": "web"}, format="json")
    assert sizes(response.json()) == [4, 4, 1]


def test_a_revision_orders_hosts_that_lack_it_first(api_client, nine, revision):
    plan = preview(api_client, "CodeDeployDefault.OneAtATime", revision=revision.pk).json()
    assert sizes(plan) == [1] * 9


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("application", {"application": "nope"}),
        ("deployment_group", {"deployment_group": "nope"}),
        ("deployment_config", {"deployment_config": "nope"}),
        ("revision", {"revision": 424242}),
    ],
)
def test_unknown_names_are_400_naming_the_field(api_client, group, field, change):
    response = preview(api_client, "CodeDeployDefault.HalfAtATime", **change)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_deployment_plan_shows_its_snapshotted_batches(api_client, nine, revision):
    created = api_client.post(
        "/api/v1/deployments/",
        {"application": "shop", "deployment_group": "web", "revision": revision.pk},
        format="json",
    ).json()
    plan = api_client.get(f"/api/v1/deployments/{created['id']}/plan/").json()
    assert plan["valid"] is True
    assert plan["minimum_healthy"] == 5
    assert sizes(plan) == [4, 4, 1]
    assert [t["batch"] for t in created["targets"]] == [0, 0, 0, 0, 1, 1, 1, 1, 2]
