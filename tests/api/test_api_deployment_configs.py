from __future__ import annotations

import pytest
from api_helpers import PROJECT

from deployments.models import Deployment, DeploymentConfig, DeploymentGroup

pytestmark = pytest.mark.django_db

URL = "/api/v1/deployment-configs/"


def create(api_client, name="two-down", kind="HOST_COUNT", value=2):
    body = {"name": name, "project": PROJECT, "minimum_healthy_hosts": {"type": kind, "value": value}}
    return api_client.post(URL, body, format="json")


def test_it_lists_the_builtins_first(api_client):
    results = api_client.get(URL).json()["results"]
    assert [c["name"] for c in results] == [
        "CodeDeployDefault.AllAtOnce",
        "CodeDeployDefault.HalfAtATime",
        "CodeDeployDefault.OneAtATime",
    ]
    assert results[1]["minimum_healthy_hosts"] == {"type": "FLEET_PERCENT", "value": 50}
    assert results[1]["builtin"] is True
    assert results[1]["project"] is None


def test_it_creates_a_custom_config_and_finds_it_by_name(api_client):
    response = create(api_client, "forty", "FLEET_PERCENT", 40)
    assert response.status_code == 201, response.json()
    detail = api_client.get(URL + "forty/").json()
    assert detail["minimum_healthy_hosts"] == {"type": "FLEET_PERCENT", "value": 40}
    assert detail["builtin"] is False
    assert detail["project"] == PROJECT
    assert DeploymentConfig.objects.get(name="forty").project.slug == PROJECT


def test_creating_one_needs_its_project(api_client):
    body = {"name": "forty", "minimum_healthy_hosts": {"type": "FLEET_PERCENT", "value": 40}}
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["project"] == ["Give the slug of the project it belongs to."]
    response = api_client.post(URL, {**body, "project": "nope"}, format="json")
    assert response.json()["errors"]["project"] == ["No project 'nope' that you are a member of."]
    assert not DeploymentConfig.objects.filter(builtin=False).exists()


def test_a_name_is_unique_within_the_project(api_client):
    assert create(api_client).status_code == 201
    response = create(api_client)
    assert response.status_code == 400
    assert response.json()["errors"]["name"] == [
        f"{PROJECT} already has a deployment configuration named two-down."
    ]


def test_a_config_stays_in_its_project(api_client, project, user):
    from projects.models import Membership, Project

    other = Project.objects.create(name="Other", slug="other")
    Membership.objects.create(project=other, user=user, role="owner")
    create(api_client)
    response = api_client.patch(URL + "two-down/", {"project": "other"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["project"] == [
        "A configuration stays in its project; create one in the other project instead."
    ]
    assert DeploymentConfig.objects.get(name="two-down").project.slug == PROJECT
    response = api_client.put(
        URL + "two-down/",
        {"name": "two-down", "project": PROJECT, "minimum_healthy_hosts": {"type": "HOST_COUNT", "value": 1}},
        format="json",
    )
    assert response.status_code == 200 and response.json()["project"] == PROJECT


def test_a_builtin_is_found_by_its_dotted_name(api_client):
    assert api_client.get(URL + "CodeDeployDefault.OneAtATime/").status_code == 200


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("FLEET_PERCENT", 100, "between 0 and 99"),
        ("HOST_COUNT", -1, "non-negative"),
        ("PERCENTISH", 10, "not one of"),
    ],
)
def test_it_refuses_a_bad_minimum_naming_the_field(api_client, kind, value, message):
    response = create(api_client, kind=kind, value=value)
    assert response.status_code == 400
    body = response.json()
    assert message in body["errors"]["minimum_healthy_hosts"][0]
    assert body["detail"].startswith("minimum_healthy_hosts: ")


def test_it_refuses_a_builtin_name_prefix_and_bad_characters(api_client):
    assert "reserved" in create(api_client, name="CodeDeployDefault.Mine").json()["errors"]["name"][0]
    assert "name" in create(api_client, name="two down").json()["errors"]


def test_builtins_cannot_be_edited_or_deleted(api_client):
    name = URL + "CodeDeployDefault.AllAtOnce/"
    edit = api_client.patch(
        name, {"minimum_healthy_hosts": {"type": "HOST_COUNT", "value": 1}}, format="json"
    )
    assert edit.status_code == 403
    assert "built-in" in edit.json()["detail"]
    assert api_client.delete(name).status_code == 403
    assert DeploymentConfig.objects.filter(builtin=True).count() == 3


def test_a_custom_config_can_be_edited_and_deleted(api_client):
    create(api_client)
    response = api_client.patch(
        URL + "two-down/", {"minimum_healthy_hosts": {"type": "HOST_COUNT", "value": 3}}, format="json"
    )
    assert response.status_code == 200
    assert DeploymentConfig.objects.get(name="two-down").minimum_healthy_value == 3
    assert api_client.delete(URL + "two-down/").status_code == 204


def test_a_config_in_use_by_a_group_cannot_be_deleted(api_client, group):
    create(api_client)
    DeploymentGroup.objects.filter(pk=group.pk).update(
        deployment_config=DeploymentConfig.objects.get(name="two-down")
    )
    response = api_client.delete(URL + "two-down/")
    assert response.status_code == 409
    assert "shop/web" in response.json()["detail"]


def test_a_config_used_by_past_deployments_cannot_be_deleted(api_client, group, revision):
    create(api_client)
    Deployment.objects.create(
        application=group.application,
        deployment_group=group,
        revision=revision,
        deployment_config=DeploymentConfig.objects.get(name="two-down"),
        file_exists_behavior="DISALLOW",
    )
    assert api_client.delete(URL + "two-down/").status_code == 409
