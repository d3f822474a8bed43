"""Blue/green with the ELBv2 router against moto: target registration through the real engine path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aws_fixtures import aws_client, target_group_behind_a_load_balancer
from factories import deploy, finish_host, make_app, make_group, make_instance, make_revision, refresh

from deployments import engine
from deployments.models import Deployment, DeploymentGroup, Instance, LifecycleEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def elb(aws_env):
    """A target group with the two blue EC2 instances registered, and two green instances beside it."""
    ec2, elbv2 = aws_client("ec2", aws_env), aws_client("elbv2", aws_env)
    _vpc, arn, _dns = target_group_behind_a_load_balancer(aws_env, 20)
    ids = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-12345678", MinCount=4, MaxCount=4)["Instances"]
    ]
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in ids[:2]])

    def in_service() -> set[str]:
        health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return {d["Target"]["Id"] for d in health if d["TargetHealth"]["State"] not in ("unused", "draining")}

    return {"url": aws_env, "arn": arn, "blue_ids": ids[:2], "green_ids": ids[2:], "in_service": in_service}


def host(name: str, ec2_id: str, role: str) -> Instance:
    instance = make_instance(name, role=role)
    Instance.objects.filter(pk=instance.pk).update(ec2_instance_id=ec2_id)
    instance.ec2_instance_id = ec2_id
    return instance


def setup_fleet(elb, *, rollback=None):
    """Blues running v1 in the group; greens in the standby pool; the group switched to blue/green."""
    app = make_app()
    group = make_group(app, config="CodeDeployDefault.AllAtOnce", tags={"role": "web"})
    blues = [host(f"blue-{n}", ec2_id, "web") for n, ec2_id in enumerate(elb["blue_ids"], start=1)]
    first = deploy(group, make_revision(app))
    for blue in blues:
        finish_host(blue, deployment=first)
    assert refresh(first).status == "Succeeded"
    greens = [host(f"green-{n}", ec2_id, "standby") for n, ec2_id in enumerate(elb["green_ids"], start=1)]
    DeploymentGroup.objects.filter(pk=group.pk).update(
        deployment_style="BLUE_GREEN",
        deployment_option="WITH_TRAFFIC_CONTROL",
        auto_rollback_events=rollback or [],
        load_balancer_info={
            "router": "elbv2",
            "target_groups": [elb["arn"]],
            "region": "us-east-1",
            "endpoint_url": elb["url"],
            "poll_interval": 0.05,
            "drain_timeout": 10,
            "health_timeout": 10,
        },
        blue_green_configuration={
            "replacement": {
                "source": "standby_pool",
                "tag_filters": [{"key": "role", "value": "standby", "type": "KEY_AND_VALUE"}],
            },
            "reroute": {"action": "CONTINUE_DEPLOYMENT", "wait_seconds": 60},
            "originals": {"action": "TERMINATE", "wait_seconds": 0},
        },
    )
    group.refresh_from_db()
    return app, group, blues, greens


def run_all(hosts, deployment, **kwargs):
    progress = True
    while progress:
        progress = any(finish_host(h, deployment=deployment, **kwargs) for h in hosts)


def test_the_reroute_registers_the_greens_deregisters_the_blues_and_retires_them(elb):
    app, group, blues, greens = setup_fleet(elb)
    blue_ids, green_ids = set(elb["blue_ids"]), set(elb["green_ids"])
    assert elb["in_service"]() == blue_ids

    deployment = deploy(group, make_revision(app))
    run_all(greens, deployment)  # install on the greens, then AllowTraffic registers them
    # Both colours serve while the originals wait for their block events.
    assert elb["in_service"]() == blue_ids | green_ids
    run_all(blues, deployment)
    deployment = refresh(deployment)
    assert deployment.status == "Baking"
    assert elb["in_service"]() == green_ids
    allow = LifecycleEvent.objects.get(
        target__deployment=deployment, target__instance=greens[0], name="AllowTraffic"
    )
    block = LifecycleEvent.objects.get(
        target__deployment=deployment, target__instance=blues[0], name="BlockTraffic"
    )
    assert allow.status == block.status == "Succeeded"
    assert "healthy in 1 target group" in allow.message and "drained from 1 target group" in block.message

    engine.sweep(now=deployment.wait_until + timedelta(seconds=1))
    assert refresh(deployment).status == "Succeeded"
    # TERMINATE: the blues leave Fleetdeck; the greens now carry the group's tags.
    assert not Instance.objects.filter(name__startswith="blue", deregistered_at__isnull=True).exists()
    assert sorted(i.name for i in engine.matching_instances(group)) == ["green-1", "green-2"]
    assert elb["in_service"]() == green_ids


def test_greens_that_fail_to_install_leave_all_traffic_on_blue(elb):
    app, group, blues, greens = setup_fleet(elb)
    deployment = deploy(group, make_revision(app))
    for green in greens:
        finish_host(green, "Failed", fail_at="ApplicationStart", deployment=deployment)
    run_all(greens + blues, deployment)

    assert refresh(deployment).status == "Failed"
    assert elb["in_service"]() == set(elb["blue_ids"])
    assert not LifecycleEvent.objects.filter(
        target__deployment=deployment, name__in=["AllowTraffic", "BlockTraffic"], status="Succeeded"
    ).exists()


def test_a_green_the_minimum_healthy_rule_can_spare_is_left_out_of_the_target_group(elb):
    # AllAtOnce needs one healthy replacement: green-2 takes all the traffic, green-1 none.
    app, group, blues, greens = setup_fleet(elb)
    deployment = deploy(group, make_revision(app))
    finish_host(greens[0], "Failed", fail_at="ApplicationStart", deployment=deployment)
    run_all(greens + blues, deployment)

    deployment = refresh(deployment)
    assert deployment.status == "Baking", deployment.error_message
    assert elb["in_service"]() == {elb["green_ids"][1]}
    engine.sweep(now=deployment.wait_until + timedelta(seconds=1))
    assert refresh(deployment).status == "Succeeded"
    assert sorted(i.name for i in engine.matching_instances(group)) == ["green-2"]


def test_a_failure_after_the_reroute_rolls_back_and_moves_traffic_back_to_blue(elb):
    app, group, blues, greens = setup_fleet(elb, rollback=["DEPLOYMENT_FAILURE"])
    deployment = deploy(group, make_revision(app))
    # green-1's AfterAllowTraffic hook fails after its AllowTraffic registered it.
    while finish_host(greens[0], "Failed", fail_at="AfterAllowTraffic", deployment=deployment) + finish_host(
        greens[1], deployment=deployment
    ):
        pass
    run_all(blues, deployment)
    assert refresh(deployment).status == "Failed"
    assert elb["green_ids"][0] in elb["in_service"]()

    rollback = Deployment.objects.get(rollback_of=deployment)
    run_all(greens + blues, rollback)
    rollback = refresh(rollback)
    assert rollback.status == "Baking"
    assert elb["in_service"]() == set(elb["blue_ids"])
    engine.sweep(now=rollback.wait_until + timedelta(seconds=1))
    assert refresh(rollback).status == "Succeeded"
    # A rollback releases the greens to the pool (never terminates them) and the blues keep serving.
    tags = dict(Instance.objects.filter(deregistered_at__isnull=True).values_list("name", "tags__role"))
    assert tags == {"blue-1": "web", "blue-2": "web", "green-1": "standby", "green-2": "standby"}
    assert elb["in_service"]() == set(elb["blue_ids"])
