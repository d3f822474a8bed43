"""kill -9 agents while their hooks run: one is restarted, one never comes back."""

from __future__ import annotations

import time

from fault_harness import assert_no_event_ran_twice, command_rows, running
from test_in_place_rollout import Rollout, by_host

from deployments.engine import RESTART_MESSAGE
from deployments.models import Instance

HOSTS = ["host-1", "host-2", "host-3", "host-4"]


def test_a_restarted_agent_fails_its_event_a_lost_one_is_swept_and_the_health_rule_halts(fleet, tmp_path):
    # HalfAtATime on 4 hosts: minimum 2, two at a time. Losing both hosts of the first batch leaves
    # 4 - 2 = 2 = the minimum, so the rule forbids taking a third host out of service: it halts.
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.HalfAtATime", hosts=HOSTS)
    restarted, lost = r.hosts[0], r.hosts[1]
    r.control(0, "AfterInstall", "sleep", "60")
    r.control(1, "AfterInstall", "sleep", "60")
    deployment = r.deploy(r.revision("v1"))
    r.api.wait(
        deployment,
        until=lambda d: running(d, restarted, "AfterInstall") and running(d, lost, "AfterInstall"),
    )
    fleet.kill(restarted)
    fleet.kill(lost)
    killed_at = time.time()
    fleet.run(fleet.agents[restarted])
    detail = r.api.wait(deployment, timeout=90)

    assert detail["status"] == "Failed", detail
    assert detail["minimum_healthy"] == 2
    assert detail["error_code"] == "AGENT_ISSUE"  # a lost agent, not a failing script, stopped it
    assert f"{lost}: AfterInstall AGENT_ISSUE" in detail["error_message"]
    targets = by_host(detail)
    assert [targets[h]["status"] for h in r.hosts] == ["Failed", "Failed", "Skipped", "Skipped"]
    assert {rec.host for rec in r.records(deployment)} == {restarted, lost}  # the rest never started

    after_restart = {e["name"]: e for e in targets[restarted]["lifecycle_events"]}["AfterInstall"]
    assert after_restart["status"] == "Failed"
    assert after_restart["diagnostics"]["error_code"] == "UnknownError"
    assert after_restart["diagnostics"]["message"] == RESTART_MESSAGE

    swept = {e["name"]: e for e in targets[lost]["lifecycle_events"]}["AfterInstall"]
    assert swept["status"] == "Failed"
    assert swept["diagnostics"]["error_code"] == "AGENT_ISSUE"
    assert f"The agent on {lost} stopped responding" in swept["diagnostics"]["message"]
    from django.utils.dateparse import parse_datetime

    # Offline after 4 s, swept every second: well inside the offline window plus a loaded machine.
    assert parse_datetime(swept["ended_at"]).timestamp() - killed_at < 30

    for host in (restarted, lost):
        events = {e["name"]: e["status"] for e in targets[host]["lifecycle_events"]}
        assert events["ApplicationStart"] == events["ValidateService"] == "Skipped"
    rows = command_rows(deployment)
    for host in (restarted, lost):
        # No command was issued for the events after the failed one...
        names = [row["lifecycle_event__name"] for row in rows if row["instance__name"] == host]
        assert "ApplicationStart" not in names
    # ...and no host ran a hook twice (the restarted agent did not run AfterInstall again).
    assert_no_event_ran_twice(r, deployment)
    ended = {(rec.host, rec.event) for rec in r.records(deployment) if rec.phase == "end"}
    assert (restarted, "AfterInstall") not in ended and (lost, "AfterInstall") not in ended

    online = dict(Instance.objects.filter(name__in=[restarted, lost]).values_list("name", "online"))
    assert online == {restarted: True, lost: False}
