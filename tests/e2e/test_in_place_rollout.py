"""In-place rollouts with five real agents: order, batches, health rules, stop, queue, agent loss."""

from __future__ import annotations

import time

import pytest
from e2e_harness import Fleet, read_records, recording_bundle

HOSTS = [f"host-{i}" for i in range(1, 6)]
AGENT_EVENTS = ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
ALL_EVENTS = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
]


class Rollout:
    """One application + group over one test's fleet, with helpers to ship labelled revisions."""

    def __init__(self, fleet: Fleet, tmp_path, config: str, hosts=HOSTS):
        self.fleet, self.api = fleet, fleet.api
        self.hosts = [f"{h}-{fleet.tag}" for h in hosts]
        self.record = tmp_path / "record.log"
        self.ctl = tmp_path / "ctl"
        self.ctl.mkdir()
        self.tmp = tmp_path
        self.app = f"app-{fleet.tag}"
        self.api.post("/api/v1/applications/", {"name": self.app, "project": fleet.project})
        self.api.post(
            f"/api/v1/applications/{self.app}/deployment-groups/",
            {
                "name": "web",
                "deployment_config": config,
                "tag_filters": [{"key": "fleet", "value": fleet.tag, "type": "KEY_AND_VALUE"}],
            },
        )
        fleet.start(self.hosts)

    def revision(self, label: str) -> int:
        bundle = recording_bundle(self.tmp / f"{label}.tgz", label=label, record=self.record, ctl=self.ctl)
        return self.api.upload(self.app, bundle, description=label)["id"]

    def deploy(self, revision: int, **extra) -> str:
        body = {"application": self.app, "deployment_group": "web", "revision": revision, **extra}
        return self.api.post("/api/v1/deployments/", body, expected=201)["id"]

    def control(self, host_index: int, event: str, kind: str, value: str = "") -> None:
        (self.ctl / f"{self.hosts[host_index]}.{event}.{kind}").write_text(value)

    def records(self, deployment: str):
        return [r for r in read_records(self.record) if r.deployment == deployment]


def by_host(detail: dict) -> dict[str, dict]:
    return {t["instance"]: t for t in detail["targets"]}


def test_hooks_run_in_codedeploy_order_and_batches_follow_half_at_a_time(fleet, tmp_path):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.HalfAtATime")
    deployment = r.deploy(r.revision("v1"))
    detail = r.api.wait(deployment)

    assert detail["status"] == "Succeeded", detail
    assert detail["minimum_healthy"] == 3  # ceil(5 * 50%)
    targets = by_host(detail)
    assert set(targets) == set(r.hosts)
    for host in r.hosts:
        assert targets[host]["status"] == "Succeeded"
        assert [e["name"] for e in targets[host]["lifecycle_events"]] == ALL_EVENTS
        ran = [rec.event for rec in r.records(deployment) if rec.host == host and rec.phase == "start"]
        # A first deployment has no previous revision, so ApplicationStop runs nothing.
        assert ran == AGENT_EVENTS[1:]
        stop = targets[host]["lifecycle_events"][0]
        assert stop["status"] == "Skipped"

    # Batches of 2, 2, 1 (5 - 3): no host of a batch starts before every host of the last one ended.
    batches: dict[int, list[str]] = {}
    for host, target in targets.items():
        batches.setdefault(target["batch"], []).append(host)
    assert sorted(len(b) for b in batches.values()) == [1, 2, 2]
    times = {
        host: (
            min(rec.at for rec in r.records(deployment) if rec.host == host),
            max(rec.at for rec in r.records(deployment) if rec.host == host),
        )
        for host in r.hosts
    }
    for index in sorted(batches)[1:]:
        previous_end = max(times[h][1] for h in batches[index - 1])
        assert all(times[h][0] >= previous_end for h in batches[index]), (batches, times)
    # And within a batch hosts overlap in time: they really ran together.
    first = batches[0]
    assert max(times[h][0] for h in first) < min(times[h][1] for h in first)


def test_a_second_deployment_runs_the_previous_revisions_application_stop(fleet, tmp_path):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.AllAtOnce", hosts=HOSTS[:2])
    first = r.deploy(r.revision("v1"))
    assert r.api.wait(first)["status"] == "Succeeded"
    second = r.deploy(r.revision("v2"))
    assert r.api.wait(second)["status"] == "Succeeded"

    for host in r.hosts:
        runs = [
            (rec.event, rec.label) for rec in r.records(second) if rec.host == host and rec.phase == "start"
        ]
        assert runs[0] == ("ApplicationStop", "v1")
        assert {label for event, label in runs[1:]} == {"v2"}


@pytest.mark.parametrize(
    ("config", "failing", "expected_status", "expected_skipped"),
    [
        # HalfAtATime on 5: minimum 3, two at a time. One failure leaves room: the rollout succeeds.
        ("CodeDeployDefault.HalfAtATime", [0], "Succeeded", 0),
        # Two failures in the first batch: 5 - 2 = 3 = minimum, nothing more may start.
        ("CodeDeployDefault.HalfAtATime", [0, 1], "Failed", 3),
        # OneAtATime: only the last host may fail.
        ("CodeDeployDefault.OneAtATime", [4], "Succeeded", 0),
        ("CodeDeployDefault.OneAtATime", [1], "Failed", 3),
    ],
)
def test_failing_hosts_give_the_outcome_the_health_rule_predicts(
    fleet, tmp_path, config, failing, expected_status, expected_skipped
):
    r = Rollout(fleet, tmp_path, config)
    for index in failing:
        r.control(index, "AfterInstall", "fail")
    detail = r.api.wait(r.deploy(r.revision("v1")), timeout=90)

    assert detail["status"] == expected_status, detail
    targets = by_host(detail)
    failed = sorted(h for h, t in targets.items() if t["status"] == "Failed")
    assert failed == sorted(r.hosts[i] for i in failing)
    skipped = [h for h, t in targets.items() if t["status"] == "Skipped"]
    assert len(skipped) == expected_skipped
    for host in skipped:
        assert not [rec for rec in read_records(r.record) if rec.host == host]  # never attempted
        assert {e["status"] for e in targets[host]["lifecycle_events"]} == {"Skipped"}
    for host in failed:
        events = {e["name"]: e for e in targets[host]["lifecycle_events"]}
        diagnostics = events["AfterInstall"]["diagnostics"]
        assert events["AfterInstall"]["status"] == "Failed"
        assert diagnostics["error_code"] == "ScriptFailed"
        assert "failed with exit code 3" in diagnostics["message"]
        assert "failing on purpose" in diagnostics["log_tail"]
        assert events["ApplicationStart"]["status"] == "Skipped"
    if expected_status == "Failed":
        assert detail["error_code"] == "HEALTH_CONSTRAINTS"
        assert r.hosts[failing[0]] in detail["error_message"]


def test_stopping_mid_rollout_skips_the_rest_and_ends_stopped(fleet, tmp_path):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=HOSTS[:3])
    r.control(0, "BeforeInstall", "sleep", "3")
    deployment = r.deploy(r.revision("v1"))
    r.api.wait(
        deployment,
        until=lambda d: any(
            e["name"] == "BeforeInstall" and e["status"] == "InProgress"
            for t in d["targets"]
            for e in t["lifecycle_events"]
        ),
    )
    r.api.post(f"/api/v1/deployments/{deployment}/stop/", expected=202)
    detail = r.api.wait(deployment, timeout=30)

    assert detail["status"] == "Stopped"
    assert detail["error_code"] == "MANUAL_STOP"
    targets = by_host(detail)
    first = targets[r.hosts[0]]
    events = {e["name"]: e["status"] for e in first["lifecycle_events"]}
    assert events["BeforeInstall"] == "Succeeded"  # the running hook was allowed to finish
    assert events["AfterInstall"] == "Skipped"
    assert first["status"] == "Unknown"
    assert [targets[h]["status"] for h in r.hosts[1:]] == ["Skipped", "Skipped"]
    assert not [rec for rec in r.records(deployment) if rec.event == "AfterInstall"]
    assert r.api.post(f"/api/v1/deployments/{deployment}/stop/", expected=409)


def test_a_second_deployment_to_a_busy_group_is_queued_and_runs_after_the_first(fleet, tmp_path):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.AllAtOnce", hosts=HOSTS[:2])
    r.control(0, "ApplicationStart", "sleep", "1")
    first = r.deploy(r.revision("v1"))
    second = r.deploy(r.revision("v2"))
    assert r.api.get(f"/api/v1/deployments/{second}/")["status"] == "Queued"

    one = r.api.wait(first)
    two = r.api.wait(second)
    assert one["status"] == two["status"] == "Succeeded"
    first_end = max(rec.at for rec in r.records(first))
    second_start = min(rec.at for rec in r.records(second))
    assert second_start >= first_end


def test_an_agent_killed_mid_hook_and_never_restarted_fails_with_agent_issue(fleet, tmp_path):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.AllAtOnce", hosts=HOSTS[:3])
    r.control(0, "AfterInstall", "sleep", "30")
    deployment = r.deploy(r.revision("v1"))
    r.api.wait(
        deployment,
        until=lambda d: any(
            t["instance"] == r.hosts[0]
            and any(
                e["name"] == "AfterInstall" and e["status"] == "InProgress" for e in t["lifecycle_events"]
            )
            for t in d["targets"]
        ),
    )
    fleet.kill(r.hosts[0])
    started = time.monotonic()
    detail = r.api.wait(deployment, timeout=60)

    # AllAtOnce needs one success: the other two carry it, and the dead host is reported precisely.
    assert detail["status"] == "Succeeded"
    dead = by_host(detail)[r.hosts[0]]
    assert dead["status"] == "Failed"
    event = {e["name"]: e for e in dead["lifecycle_events"]}["AfterInstall"]
    assert event["status"] == "Failed"
    assert event["diagnostics"]["error_code"] == "AGENT_ISSUE"
    assert "stopped responding" in event["diagnostics"]["message"]
    assert time.monotonic() - started < 30  # offline after 4 s, swept every second


def test_an_agent_restarted_mid_hook_reports_the_event_failed(fleet, tmp_path):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=HOSTS[:2])
    r.control(0, "BeforeInstall", "sleep", "30")
    deployment = r.deploy(r.revision("v1"))
    r.api.wait(
        deployment,
        until=lambda d: any(
            e["name"] == "BeforeInstall" and e["status"] == "InProgress"
            for t in d["targets"]
            for e in t["lifecycle_events"]
        ),
    )
    fleet.kill(r.hosts[0])
    fleet.run(fleet.agents[r.hosts[0]])
    detail = r.api.wait(deployment, timeout=30)

    # OneAtATime on 2 hosts: the first host failing leaves no room for the second.
    assert detail["status"] == "Failed"
    target = by_host(detail)[r.hosts[0]]
    event = {e["name"]: e for e in target["lifecycle_events"]}["BeforeInstall"]
    assert event["diagnostics"]["error_code"] == "UnknownError"
    assert event["diagnostics"]["message"] == "Failing in-progress lifecycle event after an agent restart"
    assert by_host(detail)[r.hosts[1]]["status"] == "Skipped"
