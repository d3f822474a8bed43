"""A long server-side wait no longer holds up another deployment (issue 17, "Queues").

Deployment A shifts traffic on two hosts through the command router, whose balancer the test holds
(as an ELB's 300 s deregistration delay would): both hosts' BlockTraffic keep a wait task running.
Meanwhile deployment B, of another application with no load balancer, must run to Succeeded.

On one queue (main before this change, or this tree with CELERY_TASK_ROUTES emptied) the stack's
worker (concurrency 2) is held by A's two waits, so B's advance_deployment waits behind them and B's
host stays Pending until the balancer lets go: run so, this test failed with "d-… still InProgress
after 60 s" (its target Pending, no event started). With the waits on their own queue
(FLEETDECK_WAIT_QUEUE) and their own worker, B does not wait for A.
"""

from __future__ import annotations

import time

from e2e_harness import recording_bundle


def _wait_for(condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_held_traffic_wait_does_not_hold_up_another_deployments_advance(fleet, live_stack, tmp_path):
    api, tag = fleet.api, fleet.tag
    held_app, free_app = f"held-{tag}", f"free-{tag}"
    record, ctl = tmp_path / "record.log", tmp_path / "ctl"
    ctl.mkdir()
    for app, lb in ((held_app, True), (free_app, False)):
        api.post("/api/v1/applications/", {"name": app, "project": fleet.project})
        group = {
            "name": "web",
            "deployment_config": "CodeDeployDefault.AllAtOnce",
            "tag_filters": [{"key": "app", "value": app, "type": "KEY_AND_VALUE"}],
        }
        if lb:
            group |= {
                "deployment_option": "WITH_TRAFFIC_CONTROL",
                "load_balancer_info": {"router": "command", "command": "filelb"},
            }
        api.post(f"/api/v1/applications/{app}/deployment-groups/", group)
    fleet.start([f"held-1-{tag}", f"held-2-{tag}"], {"app": held_app})
    fleet.start([f"free-1-{tag}"], {"app": free_app})

    def deploy(app: str) -> str:
        bundle = recording_bundle(tmp_path / f"{app}.tgz", label=app, record=record, ctl=ctl)
        revision = api.upload(app, bundle, description=app)["id"]
        body = {"application": app, "deployment_group": "web", "revision": revision}
        return api.post("/api/v1/deployments/", body, expected=201)["id"]

    hold = live_stack.lb_dir / f"{held_app}.hold"
    holding = live_stack.lb_dir / f"{held_app}.holding"
    hold.write_text("")
    try:
        held = deploy(held_app)
        # Both hosts' traffic shifts are running and waiting on the balancer.
        _wait_for(
            lambda: holding.exists() and len(holding.read_text().splitlines()) == 2,
            "the two BlockTraffic waits never started",
            timeout=90,
        )
        free = deploy(free_app)
        assert api.wait(free, timeout=60)["status"] == "Succeeded"
        assert api.get(f"/api/v1/deployments/{held}/")["status"] == "InProgress"  # still held
    finally:
        hold.unlink(missing_ok=True)
    assert api.wait(held, timeout=120)["status"] == "Succeeded"
