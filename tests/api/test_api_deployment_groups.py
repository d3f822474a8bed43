from __future__ import annotations

import pytest
from factories import make_instance

from deployments.models import DeploymentGroup

pytestmark = pytest.mark.django_db

URL = "/api/v1/applications/shop/deployment-groups/"
WEB = {"key": "role", "value": "web", "type": "KEY_AND_VALUE"}


def create(api_client, **body):
    payload = {"name": "web", "deployment_config": "CodeDeployDefault.HalfAtATime", "tag_filters": [WEB]}
    payload.update(body)
    return api_client.post(URL, payload, format="json")


def test_it_creates_a_group_and_shows_its_matching_instances(api_client, application, project):
    make_instance("web-1", project=project, role="web")
    make_instance("db-1", project=project, role="db")
    response = create(api_client)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["deployment_config"] == "CodeDeployDefault.HalfAtATime"
    assert body["instances"] == ["web-1"]
    assert body["deployment_style"] == "IN_PLACE"
    assert body["group_id"]
    assert api_client.get(URL + "web/").json()["instances"] == ["web-1"]


def test_it_defaults_to_one_at_a_time(api_client, application):
    response = api_client.post(URL, {"name": "web", "tag_filters": [WEB]}, format="json")
    assert response.status_code == 201
    assert response.json()["deployment_config"] == "CodeDeployDefault.OneAtATime"


def test_it_accepts_a_tag_set(api_client, application, project):
    make_instance("web-eu", project=project, role="web", region="eu")
    make_instance("web-us", project=project, role="web", region="us")
    tag_set = [[WEB], [{"key": "region", "value": "eu", "type": "KEY_AND_VALUE"}]]
    response = create(api_client, tag_filters=[], tag_set=tag_set)
    assert response.status_code == 201, response.json()
    assert response.json()["instances"] == ["web-eu"]


def test_it_names_the_filter_with_a_bad_type(api_client, application):
    bad = {"key": "role", "value": "web", "type": "KEY_OR_VALUE"}
    response = create(api_client, tag_filters=[WEB, bad])
    assert response.status_code == 400
    message = response.json()["errors"]["tag_filters"][0]
    assert "filter 1" in message
    assert "KEY_OR_VALUE" in message


@pytest.mark.parametrize(("field", "length"), [("key", 129), ("value", 257)])
def test_it_refuses_a_filter_longer_than_any_tag_could_be(api_client, application, field, length):
    too_long = {**WEB, field: "x" * length}
    response = create(api_client, tag_filters=[too_long])
    assert response.status_code == 400
    assert "could never match" in response.json()["errors"]["tag_filters"][0]
    assert not DeploymentGroup.objects.exists()


def test_it_refuses_both_tag_filters_and_a_tag_set(api_client, application):
    response = create(api_client, tag_set=[[WEB]])
    assert response.status_code == 400
    assert "exactly one of tag_filters or tag_set" in response.json()["errors"]["tag_filters"][0]


def test_it_refuses_neither_tag_filters_nor_a_tag_set(api_client, application):
    response = create(api_client, tag_filters=[])
    assert response.status_code == 400
    assert "got neither" in response.json()["errors"]["tag_set"][0]


def test_it_refuses_a_tag_set_of_four_groups(api_client, application):
    response = create(api_client, tag_filters=[], tag_set=[[WEB]] * 4)
    assert response.status_code == 400
    assert "at most 3 groups" in response.json()["errors"]["tag_set"][0]


def test_it_refuses_an_unknown_config_name(api_client, application):
    response = create(api_client, deployment_config="CodeDeployDefault.Nope")
    assert response.status_code == 400
    assert "deployment_config" in response.json()["errors"]


def test_it_refuses_blue_green_without_its_configuration_and_a_load_balancer(api_client, application):
    response = create(api_client, deployment_style="BLUE_GREEN")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "needs a blue_green_configuration" in errors["blue_green_configuration"][0]
    assert "WITH_TRAFFIC_CONTROL" in errors["deployment_option"][0]


BLUE_GREEN = {
    "replacement": {
        "source": "standby_pool",
        "tag_filters": [{"key": "pool", "value": "standby", "type": "KEY_AND_VALUE"}],
    },
    "reroute": {"action": "STOP_DEPLOYMENT", "wait_seconds": 600},
    "originals": {"action": "RELEASE", "wait_seconds": 0},
}


def test_it_creates_a_blue_green_group_on_a_standby_pool(api_client, application, settings):
    settings.TRAFFIC_COMMANDS = {"haproxy": "/usr/local/bin/lb-switch"}
    response = create(
        api_client,
        deployment_style="BLUE_GREEN",
        deployment_option="WITH_TRAFFIC_CONTROL",
        load_balancer_info={"router": "command", "command": "haproxy"},
        blue_green_configuration=BLUE_GREEN,
        auto_rollback_events=["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        health_check={"url": "http://{hostname}:8080/health", "threshold": 3},
        alarm_configuration={"alarms": ["errors-high"], "region": "eu-west-1"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["deployment_style"] == "BLUE_GREEN"
    assert body["load_balancer_info"] == {"router": "command", "command": "haproxy"}
    assert body["health_check"]["threshold"] == 3 and body["health_check"]["expected_status"] == 200
    assert body["alarm_configuration"]["enabled"] is True
    assert body["auto_rollback_events"] == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        (
            {"load_balancer_info": {"router": "command", "command": "nope"}},
            "load_balancer_info",
            "FLEETDECK_TRAFFIC_COMMAND_NOPE",
        ),
        ({"load_balancer_info": {"router": "elbv2"}}, "load_balancer_info", "target group"),
        ({"load_balancer_info": {"router": "f5"}}, "load_balancer_info", "not a valid choice"),
        ({"health_check": {"url": "http://{nope}/"}}, "health_check", "cannot be filled in"),
        (
            {"health_check": {"url": "http://{hostname}/", "threshold": 0}},
            "health_check",
            "greater than or equal to 1",
        ),
        (
            {"health_check": {"url": "http://{hostname}/", "retries": 3}},
            "health_check",
            "unknown key(s): retries",
        ),
        ({"alarm_configuration": {"alarms": []}}, "alarm_configuration", "at least 1"),
        ({"auto_rollback_events": ["DEPLOYMENT_SUCCESS"]}, "auto_rollback_events", "not a valid choice"),
        (
            {"blue_green_configuration": {"replacement": {"source": "cloud"}}},
            "blue_green_configuration",
            "replacement.source",
        ),
    ],
)
def test_safety_net_settings_are_validated_and_name_the_field(
    api_client, application, fields, field, fragment
):
    response = create(api_client, **fields)
    assert response.status_code == 400
    assert fragment in str(response.json()["errors"][field])


def test_it_refuses_traffic_control_without_a_load_balancer(api_client, application):
    response = create(api_client, deployment_option="WITH_TRAFFIC_CONTROL")
    assert response.status_code == 400
    assert "needs load_balancer_info" in response.json()["errors"]["deployment_option"][0]


def test_it_refuses_a_duplicate_group_name(api_client, group):
    response = create(api_client)
    assert response.status_code == 400
    assert "already has a deployment group named web" in response.json()["errors"]["name"][0]


def test_it_refuses_a_group_for_an_unknown_application(api_client, db):
    response = api_client.post("/api/v1/applications/nope/deployment-groups/", {"name": "web"}, format="json")
    assert response.status_code == 404


def test_it_patches_a_group(api_client, group):
    response = api_client.patch(
        URL + "web/",
        {"deployment_config": "CodeDeployDefault.AllAtOnce", "file_exists_behavior": "OVERWRITE"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    group.refresh_from_db()
    assert group.deployment_config.name == "CodeDeployDefault.AllAtOnce"
    assert group.file_exists_behavior == "OVERWRITE"


def test_it_refuses_a_patch_that_leaves_both_filters_set(api_client, group):
    response = api_client.patch(URL + "web/", {"tag_set": [[WEB]]}, format="json")
    assert response.status_code == 400


def test_it_lists_groups_with_their_instances(api_client, group, application, project):
    DeploymentGroup.objects.create(
        application=application,
        name="db",
        deployment_config=group.deployment_config,
        tag_filters=[{"key": "role", "value": "db", "type": "KEY_AND_VALUE"}],
    )
    make_instance("web-1", project=project, role="web")
    results = api_client.get(URL).json()["results"]
    assert {g["name"]: g["instances"] for g in results} == {"db": [], "web": ["web-1"]}


def test_it_deletes_a_group(api_client, group):
    assert api_client.delete(URL + "web/").status_code == 204
    assert not DeploymentGroup.objects.exists()
