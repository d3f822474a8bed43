"""Blue/green on a standby pool of real agents, with the command router keeping a file as the
load balancer. CodeDeploy cannot do blue/green on premises; Fleetdeck can."""

from __future__ import annotations

from e2e_harness import EVENTS, read_records, recording_bundle

from deployments.models import Instance


def lb_hosts(stack, app: str) -> list[str]:
    path = stack.lb_dir / f"{app}.hosts"
    return path.read_text().split() if path.exists() else []


def test_blue_green_on_a_standby_pool_moves_traffic_after_continue_then_releases_v1(
    fleet, live_stack, tmp_path
):
    api, tag = fleet.api, fleet.tag
    app = f"bg-{tag}"
    web, standby = f"web-{tag}", f"standby-{tag}"
    record, ctl = tmp_path / "record.log", tmp_path / "ctl"
    ctl.mkdir()
    api.post("/api/v1/applications/", {"name": app, "project": fleet.project})
    api.post(
        f"/api/v1/applications/{app}/deployment-groups/",
        {
            "name": "web",
            "deployment_config": "CodeDeployDefault.AllAtOnce",
            "tag_filters": [{"key": "role", "value": web, "type": "KEY_AND_VALUE"}],
        },
    )
    blues = [f"blue-{i}-{tag}" for i in (1, 2)]
    greens = [f"green-{i}-{tag}" for i in (1, 2)]
    fleet.start(blues, {"role": web})
    fleet.start(greens, {"role": standby})

    def revision(label):
        traffic_hooks = ("BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
        bundle = recording_bundle(
            tmp_path / f"{label}.tgz", label=label, record=record, ctl=ctl, events=EVENTS + traffic_hooks
        )
        return api.upload(app, bundle, description=label)["id"]

    v1 = api.post(
        "/api/v1/deployments/", {"application": app, "deployment_group": "web", "revision": revision("v1")}
    )
    assert api.wait(v1["id"])["status"] == "Succeeded"
    # v1 serves traffic from the blue hosts.
    (live_stack.lb_dir / f"{app}.hosts").write_text("\n".join(sorted(blues)) + "\n")

    api.patch(
        f"/api/v1/applications/{app}/deployment-groups/web/",
        {
            "deployment_style": "BLUE_GREEN",
            "deployment_option": "WITH_TRAFFIC_CONTROL",
            "load_balancer_info": {"router": "command", "command": "filelb"},
            "blue_green_configuration": {
                "replacement": {
                    "source": "standby_pool",
                    "tag_filters": [{"key": "role", "value": standby, "type": "KEY_AND_VALUE"}],
                },
                "reroute": {"action": "STOP_DEPLOYMENT", "wait_seconds": 120},
                "originals": {"action": "RELEASE", "wait_seconds": 2},
            },
        },
    )
    v2 = api.post(
        "/api/v1/deployments/", {"application": app, "deployment_group": "web", "revision": revision("v2")}
    )
    ready = api.wait(v2["id"], until=lambda d: d["status"] in ("Ready", "Failed", "Stopped"))

    # During: v2 is installed and validated on the greens, but traffic has not moved.
    assert ready["status"] == "Ready", ready
    targets = {t["instance"]: t for t in ready["targets"]}
    assert {targets[g]["status"] for g in greens} == {"Ready"}
    assert {targets[b]["status"] for b in blues} == {"Pending"}
    assert lb_hosts(live_stack, app) == sorted(blues)
    green_runs = {r.label for r in read_records(record) if r.host in greens}
    assert green_runs == {"v2"}

    api.post(f"/api/v1/deployments/{v2['id']}/continue/", expected=202)
    api.post(f"/api/v1/deployments/{v2['id']}/continue/", expected=409)
    seen = set()
    detail = api.wait(
        v2["id"],
        timeout=60,
        until=lambda d: seen.add(d["status"]) or d["status"] in ("Succeeded", "Failed", "Stopped"),
    )

    # After: traffic is on the greens only, the blues left the balancer after the greens joined it.
    assert detail["status"] == "Succeeded", detail
    assert "Baking" in seen
    assert lb_hosts(live_stack, app) == sorted(greens)
    journal = (live_stack.lb_dir / f"{app}.journal").read_text().split("\n")
    moves = [line.split()[:2] for line in journal if line.endswith(v2["id"])]
    assert sorted(moves[:2]) == [["allow", g] for g in sorted(greens)]
    assert sorted(moves[2:]) == [["block", b] for b in sorted(blues)]
    targets = {t["instance"]: t for t in detail["targets"]}
    for green in greens:
        assert [e["name"] for e in targets[green]["lifecycle_events"]][-3:] == [
            "BeforeAllowTraffic",
            "AllowTraffic",
            "AfterAllowTraffic",
        ]
    for blue in blues:
        assert [e["name"] for e in targets[blue]["lifecycle_events"]] == [
            "BeforeBlockTraffic",
            "BlockTraffic",
            "AfterBlockTraffic",
        ]
        blocks = [r for r in read_records(record) if r.host == blue and r.deployment == v2["id"]]
        # The originals' block hooks are v1's scripts: the last revision they installed.
        assert {(r.event, r.label) for r in blocks} == {
            ("BeforeBlockTraffic", "v1"),
            ("AfterBlockTraffic", "v1"),
        }
    for green in greens:
        allows = {r.event for r in read_records(record) if r.host == green and r.deployment == v2["id"]}
        assert {"BeforeAllowTraffic", "AfterAllowTraffic"} <= allows

    # The greens are now the group; the blues went back to the standby pool.
    tags = {i.name: i.tags["role"] for i in Instance.objects.filter(name__in=blues + greens)}
    assert {tags[g] for g in greens} == {web}
    assert {tags[b] for b in blues} == {standby}
