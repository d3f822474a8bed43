"""A Celery worker or beat that dies on its own is started again by the stack, as systemd's
`Restart=on-failure` does for their units. kombu's Redis transport can take a worker down when Redis
is killed (test_fault_redis_restart.py); then the stack must carry on instead of running without one."""

from __future__ import annotations

import os
import signal
import time

from fault_harness import assert_rolled_out_once, wait_until
from test_in_place_rollout import Rollout, by_host


def crash(stack, name: str) -> int:
    """kill -9 a child behind the stack's back, as a crash would: the stack is not told."""
    pid = stack.processes[name].pid
    os.killpg(pid, signal.SIGKILL)
    return pid


def restarts_since(stack, name: str, since: float) -> int:
    """Restarts of `name` after `since` (time.monotonic()); an earlier test may have restarted it too."""
    return len([at for at in stack.restarts.get(name, []) if at >= since])


def started_again(stack, name: str, old_pid: int) -> bool:
    proc = stack.processes.get(name)
    return proc is not None and proc.pid != old_pid and proc.poll() is None


def test_a_worker_that_dies_mid_rollout_is_started_again_and_the_rollout_completes(
    whole_stack, fleet, tmp_path
):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=["host-1", "host-2"])
    r.control(0, "BeforeInstall", "sleep", "2")
    deployment = r.deploy(r.revision("v1"))
    r.api.wait(deployment, until=lambda d: by_host(d)[r.hosts[0]]["status"] == "InProgress")

    since = time.monotonic()
    old = crash(whole_stack, "worker")
    wait_until(lambda: started_again(whole_stack, "worker", old), 30, "the stack to start a new worker")

    assert_rolled_out_once(r, r.api.wait(deployment, timeout=120))
    assert restarts_since(whole_stack, "worker", since) == 1


def test_beat_that_dies_is_started_again(whole_stack):
    since = time.monotonic()
    old = crash(whole_stack, "beat")
    wait_until(lambda: started_again(whole_stack, "beat", old), 30, "the stack to start a new beat")
    assert restarts_since(whole_stack, "beat", since) == 1
