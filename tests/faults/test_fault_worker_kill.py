"""kill -9 the Celery worker while it is inside `advance_deployment`, then start a new one."""

from __future__ import annotations

from fault_harness import assert_rolled_out_once, parked_rollout


def test_a_worker_killed_mid_advance_is_replaced_and_the_rollout_completes_without_repeats(
    whole_stack, fleet, tmp_path
):
    r, deployment, parked = parked_rollout(fleet, tmp_path)
    try:
        # The worker's advance holds the deployment's lock and an unacknowledged Celery message.
        assert parked.wait_blocked(60)
        assert whole_stack.redis.client().hlen("unacked") >= 1
        whole_stack.kill("worker")
    finally:
        parked.release()
    whole_stack.start_worker()

    # Redis gives the dead worker's message back only after an hour; the sweep re-advances instead.
    assert_rolled_out_once(r, r.api.wait(deployment, timeout=90))
