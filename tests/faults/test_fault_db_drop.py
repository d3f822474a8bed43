"""The database drops a worker's connection while its task runs: the task retries and completes."""

from __future__ import annotations

import re

from fault_harness import assert_rolled_out_once, log_tail, parked_rollout


def test_a_task_whose_connection_is_terminated_retries_and_the_rollout_completes(
    whole_stack, fleet, tmp_path
):
    r, deployment, parked = parked_rollout(fleet, tmp_path)
    try:
        # The worker's advance that starts the second host waits on a lock: kill its database session.
        pids = parked.wait_blocked(60)
        assert parked.terminate(pids) == len(pids) >= 1
    finally:
        parked.release()

    assert_rolled_out_once(r, r.api.wait(deployment, timeout=60))
    worker_log = whole_stack.log_dir / "worker.log"
    retried = re.findall(r"advance_deployment\[[0-9a-f-]+\] retry: Retry in .*", worker_log.read_text())
    assert any("OperationalError" in line and "terminat" in line for line in retried), log_tail(worker_log)
