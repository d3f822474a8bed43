"""kill -9 the Celery worker while it is inside `advance_deployment`, then start a new one."""

from __future__ import annotations

from django.db import connection
from fault_harness import assert_each_command_once, park_host, started_events
from fleetdeck_testing import require
from test_in_place_rollout import AGENT_EVENTS, Rollout, by_host


def test_a_worker_killed_mid_advance_is_replaced_and_the_rollout_completes_without_repeats(
    whole_stack, fleet, tmp_path
):
    require(connection.vendor == "postgresql", "PostgreSQL (the test parks the worker on a row lock)")
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=["host-1", "host-2"])
    for index in range(2):
        r.control(index, "BeforeInstall", "sleep", "2")
    deployment = r.deploy(r.revision("v1"))
    r.api.wait(deployment, until=lambda d: "InProgress" in {t["status"] for t in d["targets"]})

    # The second host is parked: when the first ends, the worker's advance that starts the second
    # blocks inside PostgreSQL, holding the deployment's lock and an unacknowledged Celery message.
    parked = park_host(deployment, position=1)
    try:
        assert parked.wait_blocked(60)
        assert whole_stack.redis.client().hlen("unacked") >= 1  # the task really is in the worker's hands
        whole_stack.kill("worker")
    finally:
        parked.release()
    whole_stack.start_worker()
    detail = r.api.wait(deployment, timeout=90)

    assert detail["status"] == "Succeeded", detail
    targets = by_host(detail)
    assert {t["status"] for t in targets.values()} == {"Succeeded"}  # nobody left Pending
    rows = assert_each_command_once(deployment)
    assert len(rows) == 2 * 7 and {row["status"] for row in rows} == {"Completed"}
    ran = started_events(r.records(deployment), deployment)
    assert set(ran) == {(host, event) for host in r.hosts for event in AGENT_EVENTS[1:]}
    assert set(ran.values()) == {1}, ran  # no hook ran twice
