"""Safety nets with real agents: automatic rollback, HTTP health checks, alarms, new hosts catching up."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aws_fixtures import aws_client
from e2e_harness import read_records
from test_in_place_rollout import HOSTS, Rollout, by_host

from deployments.models import DeploymentGroup


def configure(r: Rollout, **fields) -> None:
    DeploymentGroup.objects.filter(application__name=r.app, name="web").update(**fields)


def wait_for_rollback(api, deployment: str, timeout: float = 60) -> dict:
    detail = api.wait(deployment, timeout=timeout, until=lambda d: d.get("rolled_back_by"))
    return api.wait(detail["rolled_back_by"], timeout=timeout)


class HealthEndpoint:
    """A local HTTP server answering /health/<host>: 200, or 500 for hosts marked sick."""

    def __init__(self):
        self.sick: set[str] = set()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                host = self.path.rsplit("/", 1)[-1]
                self.send_response(500 if host in endpoint.sick else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # The host is always the instance's own address (here every agent connects from 127.0.0.1).
        self.url = f"http://{{hostname}}:{self.server.server_address[1]}/health/{{name}}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def health():
    endpoint = HealthEndpoint()
    yield endpoint
    endpoint.close()


def test_a_failed_deployment_rolls_back_to_the_last_successful_revision(fleet, tmp_path):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.AllAtOnce", hosts=HOSTS[:2])
    configure(r, auto_rollback_events=["DEPLOYMENT_FAILURE"])
    good = r.deploy(r.revision("v1"))
    assert r.api.wait(good)["status"] == "Succeeded"

    (r.ctl / "v2.AfterInstall.fail").write_text("")
    bad = r.deploy(r.revision("v2"))
    rollback = wait_for_rollback(r.api, bad)

    assert r.api.get(f"/api/v1/deployments/{bad}/")["status"] == "Failed"
    assert rollback["status"] == "Succeeded"
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollback_of"] == bad
    assert rollback["revision"] == r.api.get(f"/api/v1/deployments/{good}/")["revision"]
    for host in r.hosts:
        ran = [
            (rec.event, rec.label)
            for rec in r.records(rollback["id"])
            if rec.host == host and rec.phase == "start"
        ]
        assert ("ValidateService", "v1") in ran


def test_a_failing_health_check_stops_the_rollout(fleet, tmp_path, health):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=HOSTS[:3])
    configure(r, health_check={"url": health.url, "interval": 0.2, "threshold": 2, "timeout": 2})
    health.sick.add(r.hosts[0])
    detail = r.api.wait(r.deploy(r.revision("v1")), timeout=60)

    assert detail["status"] == "Failed"
    assert detail["error_code"] == "HEALTH_CONSTRAINTS"
    assert f"Health check failed on {r.hosts[0]}" in detail["error_message"]
    first = {e["name"]: e for e in by_host(detail)[r.hosts[0]]["lifecycle_events"]}
    names = [e["name"] for e in by_host(detail)[r.hosts[0]]["lifecycle_events"]]
    assert names.index("HealthCheck") == names.index("ApplicationStart") + 1
    assert first["HealthCheck"]["status"] == "Failed"
    assert "answered 500" in first["HealthCheck"]["diagnostics"]["message"]
    assert first["ValidateService"]["status"] == "Skipped"
    assert [by_host(detail)[h]["status"] for h in r.hosts[1:]] == ["Skipped", "Skipped"]


def test_healthy_hosts_pass_the_health_check_and_the_wait_is_shown(fleet, tmp_path, health):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.AllAtOnce", hosts=HOSTS[:2])
    configure(r, health_check={"url": health.url, "interval": 0.2, "threshold": 2, "timeout": 5})
    detail = r.api.wait(r.deploy(r.revision("v1")))

    assert detail["status"] == "Succeeded"
    for host in r.hosts:
        check = {e["name"]: e for e in by_host(detail)[host]["lifecycle_events"]}["HealthCheck"]
        assert check["status"] == "Succeeded"
        assert check["diagnostics"]["message"].startswith("Healthy: 2 x 200")
        assert check["duration_ms"] is not None


def test_an_alarm_raised_mid_rollout_stops_it_and_rolls_back(fleet, tmp_path, aws_env):
    cloudwatch = aws_client("cloudwatch", aws_env)
    alarm = f"errors-{fleet.tag}"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        MetricName="Errors",
        Namespace="Shop",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=HOSTS[:3])
    configure(
        r,
        auto_rollback_events=["DEPLOYMENT_STOP_ON_ALARM"],
        alarm_configuration={
            "enabled": True,
            "alarms": [alarm],
            "region": "us-east-1",
            "endpoint_url": aws_env,
        },
    )
    good = r.deploy(r.revision("v1"))
    assert r.api.wait(good)["status"] == "Succeeded"

    r.control(0, "AfterInstall", "sleep", "3")
    bad = r.deploy(r.revision("v2"))
    r.api.wait(bad, until=lambda d: d["status"] == "InProgress" and d["targets"][0]["status"] == "InProgress")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="errors spiked")
    stopped = r.api.wait(bad, timeout=30)
    assert stopped["status"] == "Stopped"
    assert stopped["error_code"] == "ALARM_ACTIVE"
    assert alarm in stopped["error_message"]

    # The alarm keeps firing (as it would until the good revision is back): the rollback, the
    # remedy, is not stopped by it.
    (r.ctl / f"{r.hosts[0]}.AfterInstall.sleep").unlink()
    rollback = wait_for_rollback(r.api, bad)
    assert rollback["status"] == "Succeeded"
    assert rollback["creator"] == "codeDeployRollback"
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="recovered")


def test_a_new_agent_joining_the_group_receives_the_last_successful_revision(fleet, tmp_path):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.AllAtOnce", hosts=HOSTS[:2])
    first = r.deploy(r.revision("v1"))
    assert r.api.wait(first)["status"] == "Succeeded"

    newcomer = f"late-{fleet.tag}"
    fleet.start([newcomer])
    deadline = time.monotonic() + 60
    while True:
        listing = r.api.get("/api/v1/deployments/", application=r.app)["results"]
        auto = [d for d in listing if d["creator"] == "autoscaling"]
        if auto:
            break
        assert time.monotonic() < deadline, "no deployment was created for the new host"
        time.sleep(0.3)
    detail = r.api.wait(auto[0]["id"])

    assert detail["status"] == "Succeeded"
    assert [t["instance"] for t in detail["targets"]] == [newcomer]
    ran = {rec.label for rec in read_records(r.record) if rec.host == newcomer}
    assert ran == {"v1"}
