"""kill -9 Redis mid-deployment and start an empty one on the same port."""

from __future__ import annotations

import json

from fault_harness import assert_rolled_out_once, wait_until
from page_setup import make_user, session_cookie
from test_in_place_rollout import Rollout, by_host
from test_live_stream import SSE, seqs

from deployments.models import Deployment
from projects.models import Project

LOST_ADVANCE = "could not queue deployments.tasks.advance_deployment"


def test_a_redis_restart_loses_nothing_the_rollout_completes_and_the_live_stream_recovers(
    whole_stack, fleet, tmp_path
):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=["host-1", "host-2", "host-3"])
    for index in range(3):
        r.control(index, "BeforeInstall", "sleep", "1.5")
    web_log = whole_stack.log_dir / "web.log"
    web_log_start = web_log.stat().st_size

    def web_log_since(offset: int) -> str:
        with open(web_log, encoding="utf-8", errors="replace") as fh:
            fh.seek(offset)
            return fh.read()

    viewer = make_user(Project.objects.get(slug=fleet.project), "viewer")
    deployment = r.deploy(r.revision("v1"))
    stream = SSE(
        f"{whole_stack.url}/p/{fleet.project}/deployments/{deployment}/stream?after=0", session_cookie(viewer)
    )
    try:
        r.api.wait(deployment, until=lambda d: by_host(d)[r.hosts[0]]["status"] == "InProgress")
        whole_stack.redis.client().set("fd-test:before-the-kill", "1")
        # Queued Celery messages, pub/sub subscriptions and wake-ups all go with it.
        whole_stack.redis.kill()
        # The first host ends while Redis is away: the task that should start the next is never queued
        # (the web process says so once the broker has refused it).
        r.api.wait(deployment, until=lambda d: by_host(d)[r.hosts[0]]["status"] == "Succeeded")
        wait_until(
            lambda: LOST_ADVANCE in web_log_since(web_log_start),
            30,
            "the web process to give up queueing the advance that starts host-2",
        )
        whole_stack.redis.start()
        # An empty Redis: what was there before is gone (the worker and beat write their own keys
        # again as soon as they reconnect, so counting keys would race them).
        assert whole_stack.redis.client().get("fd-test:before-the-kill") is None
        detail = r.api.wait(deployment, timeout=90)
        items = stream.until("end", timeout=30)
    finally:
        stream.close()

    assert_rolled_out_once(r, detail)
    errors = [line for line in web_log_since(web_log_start).splitlines() if "Internal Server Error" in line]
    assert not errors  # a missing broker costs a wake-up, never an agent's or a user's request

    # The page's stream saw every row, in order, with no gap, and then its end.
    last = Deployment.objects.get(pk=deployment).event_seq
    assert seqs(items) == list(range(1, last + 1))
    statuses = [json.loads(data).get("status") for _, kind, data in items if kind == "deployment"]
    assert statuses[-1] == "Succeeded"
    logged = {json.loads(data)["message"] for _, kind, data in items if kind == "log"}
    assert {f"v1 ValidateService on {host}: second line" for host in r.hosts} <= logged
