"""The group page edits the group's safety settings with the REST API's own validation."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from factories import make_app, make_group, make_member, make_project, make_user

from deployments.models import DeploymentGroup

pytestmark = pytest.mark.django_db

URL = "/p/shop/groups/shop/web/"
API = "/api/v1/applications/shop/deployment-groups/web/"
ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"


@pytest.fixture
def group():
    project = make_project("shop")
    return make_group(make_app("shop", project=project), "web")


def client_as(group, role: str) -> Client:
    client = Client()
    if role == "outsider":
        client.force_login(make_user("oscar"))
    elif role != "anonymous":
        client.force_login(make_member(group.application.project, role, role))
    return client


def form_data(**changes) -> dict:
    """What the browser posts for the fixture group with nothing changed, plus `changes`."""
    data = {
        "deployment_config": "CodeDeployDefault.OneAtATime",
        "deployment_style": "IN_PLACE",
        "deployment_option": "WITHOUT_TRAFFIC_CONTROL",
        "tag_filters": "role=web",
        "file_exists_behavior": "DISALLOW",
        "alarms_enabled": "on",
        "bg_reroute_action": "CONTINUE_DEPLOYMENT",
        "bg_reroute_wait": "3600",
        "bg_originals_action": "KEEP_ALIVE",
        "bg_originals_wait": "0",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("role", "get_status", "post_status"),
    [
        ("owner", 200, 302),
        ("contributor", 200, 302),
        ("viewer", 200, 403),
        ("outsider", 404, 404),
    ],
)
def test_contributors_edit_viewers_read_and_outsiders_get_a_404(group, role, get_status, post_status):
    client = client_as(group, role)
    page = client.get(URL)
    assert page.status_code == get_status
    if get_status == 200:
        html = page.content.decode()
        assert ("Save settings" in html) == (role in ("owner", "contributor"))
        assert "Automatic rollback" in html and "Load balancer" in html
    answer = client.post(URL, form_data(ignore_application_stop_failures="on"))
    assert answer.status_code == post_status
    group.refresh_from_db()
    assert group.ignore_application_stop_failures == (post_status == 302)


def test_anonymous_visitors_are_sent_to_log_in(group):
    for answer in (Client().get(URL), Client().post(URL, form_data())):
        assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]


def test_every_safety_setting_is_saved_from_the_form(group, settings):
    settings.TRAFFIC_COMMANDS = {"filelb": "/bin/true"}
    client = client_as(group, "contributor")
    answer = client.post(
        URL,
        form_data(
            deployment_config="CodeDeployDefault.HalfAtATime",
            deployment_style="BLUE_GREEN",
            deployment_option="WITH_TRAFFIC_CONTROL",
            tag_filters="role=web\nenv\n*=blue",
            ignore_application_stop_failures="on",
            file_exists_behavior="OVERWRITE",
            auto_rollback_events=["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
            alarms="shop-5xx\nshop-latency",
            ignore_poll_alarm_failure="on",
            health_check_url="http://{hostname}:8080/health",
            health_check_bake_seconds="30",
            lb_router="command",
            lb_command="filelb",
            bg_source="standby_pool",
            bg_tag_filters="role=standby",
            bg_reroute_action="STOP_DEPLOYMENT",
            bg_reroute_wait="600",
            bg_originals_action="TERMINATE",
            bg_originals_wait="120",
        ),
    )
    assert answer.status_code == 302
    assert "Saved the settings" in client.get(URL).content.decode()
    group = DeploymentGroup.objects.select_related("deployment_config").get(pk=group.pk)
    assert group.deployment_config.name == "CodeDeployDefault.HalfAtATime"
    assert (group.deployment_style, group.deployment_option) == ("BLUE_GREEN", "WITH_TRAFFIC_CONTROL")
    assert group.tag_filters == [
        {"key": "role", "value": "web", "type": "KEY_AND_VALUE"},
        {"key": "env", "value": "", "type": "KEY_ONLY"},
        {"key": "", "value": "blue", "type": "VALUE_ONLY"},
    ]
    assert group.ignore_application_stop_failures and group.file_exists_behavior == "OVERWRITE"
    assert group.auto_rollback_events == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
    assert group.alarm_configuration == {
        "enabled": True,
        "alarms": ["shop-5xx", "shop-latency"],
        "ignore_poll_alarm_failure": True,
    }
    assert group.health_check["url"] == "http://{hostname}:8080/health"
    assert group.health_check["bake_seconds"] == 30.0
    assert group.load_balancer_info == {"router": "command", "command": "filelb"}
    assert group.blue_green_configuration == {
        "replacement": {
            "source": "standby_pool",
            "tag_filters": [{"key": "role", "value": "standby", "type": "KEY_AND_VALUE"}],
        },
        "reroute": {"action": "STOP_DEPLOYMENT", "wait_seconds": 600},
        "originals": {"action": "TERMINATE", "wait_seconds": 120},
    }
    # The form shows what it saved, and the viewer's summary too.
    html = client_as(group, "viewer").get(URL).content.decode()
    assert "shop-5xx, shop-latency" in html and "wait up to 600 s in Ready" in html
    assert "terminate the original instances after 120 s" in html  # the console's words, not TERMINATE
    assert "TERMINATE" not in html.split('id="settings"')[0]


def test_settings_the_page_does_not_show_are_kept(group):
    DeploymentGroup.objects.filter(pk=group.pk).update(
        deployment_option="WITH_TRAFFIC_CONTROL",
        load_balancer_info={"router": "elbv2", "target_groups": [ARN], "drain_timeout": 30, "port": 8080},
        health_check={"url": "http://{hostname}/up", "threshold": 5, "interval": 1.0},
    )
    client = client_as(group, "contributor")
    html = client.get(URL).content.decode()
    assert ARN in html
    data = form_data(
        deployment_option="WITH_TRAFFIC_CONTROL",
        lb_router="elbv2",
        lb_target_groups=ARN,
        health_check_url="http://{hostname}/ready",
    )
    assert client.post(URL, data).status_code == 302
    group.refresh_from_db()
    assert group.load_balancer_info == {
        "router": "elbv2",
        "target_groups": [ARN],
        "drain_timeout": 30,
        "port": 8080,
    }
    assert group.health_check["url"] == "http://{hostname}/ready" and group.health_check["threshold"] == 5


@pytest.mark.parametrize(
    ("changes", "field", "api_body"),
    [
        (
            {"health_check_url": "{hostname}/health"},
            "health_check_url",
            {"health_check": {"url": "{hostname}/health"}},
        ),
        (
            {"deployment_option": "WITH_TRAFFIC_CONTROL"},
            "deployment_option",
            {"deployment_option": "WITH_TRAFFIC_CONTROL"},
        ),
        (
            {"deployment_option": "WITH_TRAFFIC_CONTROL", "lb_router": "elbv2"},
            "lb_target_groups",
            {"deployment_option": "WITH_TRAFFIC_CONTROL", "load_balancer_info": {"router": "elbv2"}},
        ),
        (
            {"deployment_option": "WITH_TRAFFIC_CONTROL", "lb_router": "command", "lb_command": "nginx"},
            "lb_command",
            {
                "deployment_option": "WITH_TRAFFIC_CONTROL",
                "load_balancer_info": {"router": "command", "command": "nginx"},
            },
        ),
        (
            {"bg_source": "standby_pool", "bg_tag_filters": ""},
            "bg_tag_filters",
            {"blue_green_configuration": {"replacement": {"source": "standby_pool"}}},
        ),
        (
            {"tag_filters": "role="},
            "tag_filters",
            {"tag_filters": [{"key": "role", "value": "", "type": "KEY_AND_VALUE"}]},
        ),
    ],
    ids=[
        "health-url",
        "traffic-without-lb",
        "elbv2-without-arn",
        "unknown-command",
        "bg-no-pool",
        "empty-value",
    ],
)
def test_a_bad_setting_gets_the_apis_error_on_its_field_and_loses_nothing(group, changes, field, api_body):
    client = client_as(group, "contributor")
    data = form_data(alarms="kept-alarm", health_check_bake_seconds="45", **changes)
    answer = client.post(URL, data)
    assert answer.status_code == 400
    form = answer.context["form"]
    assert field in form.errors, form.errors
    html = answer.content.decode()
    assert "Nothing was saved" in html
    assert "kept-alarm" in html and 'value="45"' in html  # what was typed is still there
    for value in changes.values():
        assert str(value).replace("{", "").split("/")[0] in html.replace("{", "")
    group.refresh_from_db()
    assert group.alarm_configuration == {} and group.deployment_option == "WITHOUT_TRAFFIC_CONTROL"

    # The REST API answers the same body with the same message.
    api = client.patch(API, json.dumps(api_body), content_type="application/json")
    assert api.status_code == 400
    api_messages = json.dumps(api.json())
    for message in form.errors[field]:
        # The page speaks the user's words, never the JSON keys the API names.
        assert "tag_filters" not in message and "replacement." not in message, message
        if field == "tag_filters":  # the tag editor's own check: which line, and what to write
            assert message.startswith("Line 1 (“role=”)"), message
            continue
        assert json.dumps(message.lower())[1:-1] in api_messages.lower(), (message, api_messages)


def test_a_group_matched_by_a_tag_set_shows_it_in_the_tag_editor_and_keeps_it(group):
    tag_set = [
        [{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}],
        [{"key": "env", "value": "", "type": "KEY_ONLY"}],
    ]
    DeploymentGroup.objects.filter(pk=group.pk).update(tag_filters=[], tag_set=tag_set)
    client = client_as(group, "contributor")
    shown = client.get(URL).context["form"]["tag_filters"].value()
    assert shown == "role=web\nand\nenv"
    assert (
        client.post(URL, form_data(tag_filters=shown, ignore_application_stop_failures="on")).status_code
        == 302
    )
    group.refresh_from_db()
    assert group.tag_set == tag_set and group.ignore_application_stop_failures
    # Typing filters replaces the tag set, as the API allows one or the other.
    assert client.post(URL, form_data(tag_filters="role=api")).status_code == 302
    group.refresh_from_db()
    assert group.tag_set == [] and group.tag_filters == [
        {"key": "role", "value": "api", "type": "KEY_AND_VALUE"}
    ]
