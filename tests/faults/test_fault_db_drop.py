"""The database drops a worker's connection while its task runs: the task retries and completes."""

from __future__ import annotations

import re

from django.db import connection
from fault_harness import assert_each_command_once, log_tail, park_host, started_events
from fleetdeck_testing import require
from test_in_place_rollout import AGENT_EVENTS, Rollout, by_host


def test_a_task_whose_connection_is_terminated_retries_and_the_rollout_completes(
    whole_stack, fleet, tmp_path
):
    require(connection.vendor == "postgresql", "PostgreSQL (pg_terminate_backend)")
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=["host-1", "host-2"])
    for index in range(2):
        r.control(index, "BeforeInstall", "sleep", "2")
    deployment = r.deploy(r.revision("v1"))
    r.api.wait(deployment, until=lambda d: "InProgress" in {t["status"] for t in d["targets"]})

    # The worker's advance that starts the second host waits on a lock; kill its database session.
    parked = park_host(deployment, position=1)
    try:
        pids = parked.wait_blocked(60)
        assert parked.terminate(pids) == len(pids) >= 1
    finally:
        parked.release()
    detail = r.api.wait(deployment, timeout=60)

    assert detail["status"] == "Succeeded", detail
    assert {t["status"] for t in by_host(detail).values()} == {"Succeeded"}
    worker_log = (whole_stack.log_dir / "worker.log").read_text(errors="replace")
    retried = re.findall(r"advance_deployment\[[0-9a-f-]+\] retry: Retry in .*", worker_log)
    assert any("OperationalError" in line or "terminat" in line for line in retried), log_tail(
        whole_stack.log_dir / "worker.log"
    )
    rows = assert_each_command_once(deployment)
    assert len(rows) == 2 * 7 and {row["status"] for row in rows} == {"Completed"}
    ran = started_events(r.records(deployment), deployment)
    assert set(ran) == {(host, event) for host in r.hosts for event in AGENT_EVENTS[1:]}
    assert set(ran.values()) == {1}, ran
