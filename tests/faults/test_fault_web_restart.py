"""kill -9 uvicorn while agents long-poll and one reports a hook, then start it again."""

from __future__ import annotations

import re
import signal

import pytest
from fault_harness import assert_rolled_out_once, running, wait_until
from test_in_place_rollout import Rollout

RETRY = re.compile(r"(Polling \S+ failed|Reporting completion of \S+ failed).*retrying in ([0-9.]+) s")


@pytest.fixture
def patient_sweep(whole_stack):
    """The stack's sweep takes an agent silent for 4 s for lost, shorter than a web restart here;
    production's default is 90 s. Run this test with a worker whose sweep waits 30 s (only the
    worker: the web server's heartbeat settings must stay those of the rest of the stack)."""
    key = "FLEETDECK_AGENT_OFFLINE_AFTER"
    usual = whole_stack.env[key]
    whole_stack.kill("worker", signal.SIGTERM)
    whole_stack.env[key] = "30"
    try:
        whole_stack.start_worker()
    finally:
        whole_stack.env[key] = usual
    yield whole_stack
    whole_stack.kill("worker", signal.SIGTERM)
    whole_stack.start_worker()


def test_agents_reconnect_with_capped_backoff_after_a_web_restart_and_no_command_is_lost(
    patient_sweep, fleet, tmp_path
):
    whole_stack = patient_sweep
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=["host-1", "host-2", "host-3"])
    r.control(0, "AfterInstall", "sleep", "3")
    deployment = r.deploy(r.revision("v1"))
    r.api.wait(deployment, until=lambda d: running(d, r.hosts[0], "AfterInstall"))
    # host-1 is inside its hook; host-2 and host-3 are waiting in long polls.
    whole_stack.kill("web")

    def retrying(host: str, what: str) -> bool:
        return any(found.startswith(what) for found, _ in RETRY.findall(fleet.agents[host].log.read_text()))

    def hook_ended_and_everyone_retries() -> bool:
        ended = {(rec.host, rec.event) for rec in r.records(deployment) if rec.phase == "end"}
        return (
            (r.hosts[0], "AfterInstall") in ended
            and retrying(r.hosts[0], "Reporting completion")
            and all(retrying(host, "Polling") for host in r.hosts[1:])
        )

    # The hook ends while the server is away: its completion waits and retries, as do the long polls.
    wait_until(hook_ended_and_everyone_retries, 30, "host-1's hook to end and every agent to retry")
    whole_stack.start_web()
    whole_stack.wait_healthy(60)
    assert_rolled_out_once(r, r.api.wait(deployment, timeout=60))

    retries = {host: RETRY.findall(fleet.agents[host].log.read_text()) for host in r.hosts}
    assert any(what.startswith("Reporting completion") for what, _ in retries[r.hosts[0]]), retries
    for host in r.hosts[1:]:
        assert any(what.startswith("Polling") for what, _ in retries[host]), retries
    # FLEETDECK_AGENT_BACKOFF_CAP=1: every wait is capped, and the agents did not spin either.
    delays = [float(delay) for found in retries.values() for _, delay in found]
    assert max(delays) <= 1.0 and min(delays) >= 0.2, delays
    assert all(len(found) < 40 for found in retries.values()), retries
