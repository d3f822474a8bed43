"""Rollback, health checks, alarms and new hosts, driven through the engine (Celery eager)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aws_fixtures import aws_client
from factories import deploy, finish_host, make_app, make_group, make_instance, make_revision, refresh

from config.stack import free_port
from deployments import healthcheck
from deployments.models import Creator, Deployment, DeploymentGroup, InstanceGroupState
from deployments.rollout import alarms, creation, rollback

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fleet():
    app = make_app()
    group = make_group(app, config="CodeDeployDefault.AllAtOnce")
    hosts = [make_instance(f"web-{i}", role="web") for i in (1, 2)]
    return app, group, hosts


def succeed(group, revision, hosts) -> Deployment:
    deployment = deploy(group, revision)
    for host in hosts:
        finish_host(host, deployment=deployment)
    return refresh(deployment)


def test_a_failure_with_rollback_on_creates_a_linked_rollback_of_the_last_good_revision(fleet):
    app, group, hosts = fleet
    group.auto_rollback_events = [rollback.ON_FAILURE]
    group.save()
    good_revision = make_revision(app)
    assert succeed(group, good_revision, hosts).status == "Succeeded"

    bad = deploy(group, make_revision(app))
    for host in hosts:
        finish_host(host, "Failed", deployment=bad)
    bad = refresh(bad)

    assert bad.status == "Failed"
    again = bad.rolled_back_by
    assert again.creator == Creator.ROLLBACK
    assert again.revision == good_revision
    assert again.status == "InProgress"
    assert creation.roll_back(bad.id) is None  # a second attempt is refused
    assert Deployment.objects.filter(rollback_of=bad).count() == 1


def test_rollback_is_not_attempted_when_the_group_does_not_ask_for_it(fleet):
    app, group, hosts = fleet
    succeed(group, make_revision(app), hosts)
    bad = deploy(group, make_revision(app))
    for host in hosts:
        finish_host(host, "Failed", deployment=bad)
    assert not Deployment.objects.filter(rollback_of=bad).exists()


def test_a_per_deployment_override_turns_rollback_on(fleet):
    app, group, hosts = fleet
    succeed(group, make_revision(app), hosts)
    bad = deploy(group, make_revision(app), auto_rollback_events=[rollback.ON_FAILURE])
    for host in hosts:
        finish_host(host, "Failed", deployment=bad)
    assert Deployment.objects.filter(rollback_of=bad).exists()


def test_without_an_earlier_success_there_is_nothing_to_roll_back_to(fleet):
    app, group, hosts = fleet
    group.auto_rollback_events = [rollback.ON_FAILURE]
    group.save()
    bad = deploy(group, make_revision(app))
    for host in hosts:
        finish_host(host, "Failed", deployment=bad)
    assert not Deployment.objects.filter(rollback_of=bad).exists()
    assert bad.event_log.filter(kind="rollback", message__contains="No earlier successful").exists()


def test_a_new_host_gets_the_last_successful_revision(fleet):
    app, group, hosts = fleet
    revision = make_revision(app)
    succeed(group, revision, hosts)
    newcomer = make_instance("web-3", role="web")

    (created,) = creation.update_new_instance(newcomer.pk)
    deployment = Deployment.objects.get(pk=created)
    assert deployment.creator == Creator.AUTOSCALING
    assert deployment.revision == revision
    assert [t.instance_id for t in deployment.targets.all()] == [newcomer.pk]
    finish_host(newcomer, deployment=deployment)
    assert refresh(deployment).status == "Succeeded"
    assert InstanceGroupState.objects.get(instance=newcomer, group=group).revision == revision
    assert creation.update_new_instance(newcomer.pk) == []  # already current


def test_the_ignore_strategy_leaves_new_hosts_alone(fleet):
    app, group, hosts = fleet
    succeed(group, make_revision(app), hosts)
    DeploymentGroup.objects.filter(pk=group.pk).update(outdated_instances_strategy="IGNORE")
    assert creation.update_new_instance(make_instance("web-3", role="web").pk) == []


class Endpoint:
    def __init__(self, statuses):
        self.statuses = list(statuses)
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status = endpoint.statuses.pop(0) if len(endpoint.statuses) > 1 else endpoint.statuses[0]
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize(
    ("statuses", "config", "ok", "fragment"),
    [
        ([200], {"threshold": 2}, True, "Healthy: 2 x 200"),
        ([503, 503, 200], {"threshold": 2}, True, "Healthy"),
        ([500], {"threshold": 1, "timeout": 0.3}, False, "answered 500"),
        ([200, 200, 500], {"threshold": 1, "bake_seconds": 1}, False, "during the 1 s bake"),
        ([204], {"expected_status": 204, "threshold": 1}, True, "1 x 204"),
    ],
)
def test_the_health_check_follows_threshold_timeout_and_bake(statuses, config, ok, fragment):
    endpoint = Endpoint(statuses)
    try:
        result = healthcheck.check({"interval": 0.05, **config}, endpoint.url)
    finally:
        endpoint.server.shutdown()
    assert result.ok is ok
    assert fragment in result.message


def test_an_unreachable_health_endpoint_fails_with_the_reason():
    result = healthcheck.check({"interval": 0.05, "timeout": 0.2}, f"http://127.0.0.1:{free_port()}/health")
    assert not result.ok
    assert "did not answer" in result.message


def test_a_health_url_with_an_unknown_placeholder_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot be filled in"):
        healthcheck.url_for("http://{nope}/", name="a", hostname="a", tags={})


@pytest.fixture
def cloudwatch(aws_env):
    return aws_env, aws_client("cloudwatch", aws_env)


def _alarm(client, name):
    client.put_metric_alarm(
        AlarmName=name,
        MetricName="Errors",
        Namespace="Shop",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )


def _watch(group, cloudwatch, name: str) -> None:
    """Create the alarm (in OK) and have the group watch it."""
    url, client = cloudwatch
    _alarm(client, name)
    group.alarm_configuration = {
        "enabled": True,
        "alarms": [name],
        "region": "us-east-1",
        "endpoint_url": url,
    }
    group.save()


def test_an_alarm_in_alarm_state_stops_the_deployment(fleet, cloudwatch):
    _, client = cloudwatch
    app, group, hosts = fleet
    _watch(group, cloudwatch, "cpu-a")
    deployment = deploy(group, make_revision(app))
    assert alarms.check(deployment) is None  # OK state: carry on

    client.set_alarm_state(AlarmName="cpu-a", StateValue="ALARM", StateReason="test")
    assert alarms.poll_all() == 1
    for host in hosts:
        finish_host(host, deployment=deployment)
    deployment = refresh(deployment)
    assert deployment.status == "Stopped"
    assert deployment.error_code == "ALARM_ACTIVE"
    assert "cpu-a" in deployment.error_message


def test_a_rollback_is_not_stopped_by_the_alarm_that_is_still_firing(fleet, cloudwatch):
    _, client = cloudwatch
    app, group, hosts = fleet
    _watch(group, cloudwatch, "cpu-r")
    good = deploy(group, make_revision(app))
    for host in hosts:
        finish_host(host, deployment=good)
    bad = deploy(group, make_revision(app), auto_rollback_events=["DEPLOYMENT_STOP_ON_ALARM"])
    client.set_alarm_state(AlarmName="cpu-r", StateValue="ALARM", StateReason="errors spiked")
    assert alarms.poll_all() == 1
    for host in hosts:
        finish_host(host, deployment=bad)
    bad = refresh(bad)
    assert (bad.status, bad.error_code) == ("Stopped", "ALARM_ACTIVE")
    rollback = bad.rolled_back_by
    assert rollback is not None and rollback.status == "InProgress"
    # The alarm still fires, and the rollback carries on to the good revision.
    assert alarms.poll_all() == 0
    for host in hosts:
        finish_host(host, deployment=rollback)
    assert refresh(rollback).status == "Succeeded"


@pytest.mark.parametrize(("ignore", "stops"), [(False, True), (True, False)])
def test_unreadable_alarms_stop_unless_told_to_ignore(fleet, aws_env, ignore, stops):
    app, group, _hosts = fleet
    group.alarm_configuration = {
        "enabled": True,
        "alarms": ["cpu-b"],
        "region": "us-east-1",
        "endpoint_url": f"http://127.0.0.1:{free_port()}",
        "ignore_poll_alarm_failure": ignore,
    }
    group.save()
    deployment = deploy(group, make_revision(app))
    assert bool(alarms.check(deployment)) is stops
    assert (refresh(deployment).error_code == "ALARM_ACTIVE") is stops
