"""In-place deployments with traffic control: the command router and ELBv2 (against moto)."""

from __future__ import annotations

import time

import pytest
from aws_fixtures import aws_client, target_group_behind_a_load_balancer
from factories import deploy, finish_host, make_app, make_group, make_instance, make_revision, refresh

from deployments import traffic
from deployments.models import DeploymentGroup, LifecycleEvent

pytestmark = pytest.mark.django_db(transaction=True)

TRAFFIC_ORDER = [
    "BeforeBlockTraffic",
    "BlockTraffic",
    "AfterBlockTraffic",
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
]


@pytest.fixture
def lb_command(tmp_path, settings):
    """A 'load balancer' that is a file: the command appends what it was asked to do."""
    state = tmp_path / "lb.log"
    script = tmp_path / "lb.sh"
    script.write_text(f'#!/bin/sh\necho "$FLEETDECK_LIFECYCLE_EVENT $*" >> {state}\n')
    script.chmod(0o755)
    settings.TRAFFIC_COMMANDS = {"filelb": str(script)}
    return state


def traffic_group(app, info, config="CodeDeployDefault.OneAtATime"):
    group = make_group(app, config=config)
    DeploymentGroup.objects.filter(pk=group.pk).update(
        deployment_option="WITH_TRAFFIC_CONTROL", load_balancer_info=info
    )
    group.refresh_from_db()
    return group


def test_in_place_with_traffic_control_blocks_then_allows_each_host(lb_command):
    app = make_app()
    group = traffic_group(app, {"router": "command", "command": "filelb"})
    hosts = [make_instance(f"web-{i}", role="web") for i in (1, 2)]
    deployment = deploy(group, make_revision(app))
    ran = {h.name: finish_host(h, deployment=deployment) for h in hosts}

    deployment = refresh(deployment)
    assert deployment.status == "Succeeded"
    for host in hosts:
        names = list(
            LifecycleEvent.objects.filter(target__deployment=deployment, target__instance=host)
            .order_by("position")
            .values_list("name", flat=True)
        )
        assert names == TRAFFIC_ORDER
        # The agent never sees the server's own steps.
        assert "BlockTraffic" not in ran[host.name] and "AllowTraffic" not in ran[host.name]
    assert lb_command.read_text().splitlines() == [
        "BlockTraffic block web-1=web-1",
        "AllowTraffic allow web-1=web-1",
        "BlockTraffic block web-2=web-2",
        "AllowTraffic allow web-2=web-2",
    ]
    allow = LifecycleEvent.objects.get(
        target__deployment=deployment, target__instance=hosts[0], name="AllowTraffic"
    )
    assert allow.status == "Succeeded"
    assert "waited" in allow.log_tail


def test_a_failing_traffic_command_fails_the_host_with_its_output(tmp_path, settings):
    script = tmp_path / "bad.sh"
    script.write_text("#!/bin/sh\necho 'backend pool is locked' >&2\nexit 4\n")
    script.chmod(0o755)
    settings.TRAFFIC_COMMANDS = {"bad": str(script)}
    app = make_app()
    group = traffic_group(app, {"router": "command", "command": "bad"})
    host = make_instance("web-1", role="web")
    deployment = deploy(group, make_revision(app))
    finish_host(host, deployment=deployment)

    assert refresh(deployment).status == "Failed"
    block = LifecycleEvent.objects.get(target__deployment=deployment, name="BlockTraffic")
    assert block.status == "Failed"
    assert "exited with 4" in block.message and "backend pool is locked" in block.message


def test_an_unconfigured_command_names_the_environment_variable_to_set():
    with pytest.raises(traffic.RouterError, match="FLEETDECK_TRAFFIC_COMMAND_NGINX"):
        traffic.router_for({"router": "command", "command": "nginx"})
    with pytest.raises(traffic.RouterError, match="Unknown traffic router"):
        traffic.router_for({"router": "f5"})


@pytest.fixture
def aws(aws_env):
    return aws_env, aws_client("ec2", aws_env), aws_client("elbv2", aws_env)


def test_elbv2_deregisters_and_registers_each_host_at_the_right_steps(aws):
    url, ec2, elbv2 = aws
    _vpc, arn, _dns = target_group_behind_a_load_balancer(url, 9)
    ec2_ids = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2)["Instances"]
    ]
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in ec2_ids])

    app = make_app()
    info = {
        "router": "elbv2",
        "target_groups": [arn],
        "region": "us-east-1",
        "endpoint_url": url,
        "poll_interval": 0.05,
        "drain_timeout": 5,
        "health_timeout": 5,
    }
    group = traffic_group(app, info)
    hosts = []
    for index, ec2_id in enumerate(ec2_ids, start=1):
        host = make_instance(f"web-{index}", role="web")
        host.ec2_instance_id = ec2_id
        host.save(update_fields=["ec2_instance_id"])
        hosts.append(host)

    def registered() -> set[str]:
        health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return {d["Target"]["Id"] for d in health if d["TargetHealth"]["State"] != "unused"}

    deployment = deploy(group, make_revision(app))
    seen = []
    from factories import complete, issued

    while commands := issued(hosts[0], deployment):
        command = commands[0]
        seen.append((command.lifecycle_event.name, registered()))
        complete(command, hosts[0])
    finish_host(hosts[1], deployment=deployment)

    assert refresh(deployment).status == "Succeeded"
    states = dict(seen)
    # Out of the target group from AfterBlockTraffic until AllowTraffic put it back.
    assert ec2_ids[0] in states["BeforeBlockTraffic"]
    assert ec2_ids[0] not in states["AfterBlockTraffic"]
    assert ec2_ids[0] not in states["BeforeAllowTraffic"]
    assert ec2_ids[0] in states["AfterAllowTraffic"]
    assert registered() == set(ec2_ids)


def test_elbv2_fails_at_once_on_a_target_group_no_load_balancer_uses_and_halts_the_deployment(aws):
    url, ec2, elbv2 = aws
    vpc = ec2.create_vpc(CidrBlock="10.11.0.0/16")["Vpc"]["VpcId"]
    loose = elbv2.create_target_group(
        Name="loose", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    (ec2_id,) = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"]
    ]
    info = {
        "router": "elbv2",
        "target_groups": [loose],
        "region": "us-east-1",
        "endpoint_url": url,
        "health_timeout": 60,
    }
    router = traffic.router_for(info)
    started = time.monotonic()
    with pytest.raises(traffic.RouterError) as caught:
        router.shift(traffic.ALLOW, [traffic.Host("web-1", "web-1", ec2_id)], {})
    assert time.monotonic() - started < 10  # not the 60 s health timeout
    assert caught.value.code == "ELASTIC_LOAD_BALANCING_INVALID"
    assert "loose" in caught.value.message and "not attached to any load balancer" in caught.value.message
    assert (
        elbv2.describe_target_health(TargetGroupArn=loose)["TargetHealthDescriptions"] == []
    )  # nothing registered

    # In a deployment: the first traffic event fails and the deployment stops with that code.
    app = make_app()
    host = make_instance("web-1", role="web")
    host.ec2_instance_id = ec2_id
    host.save(update_fields=["ec2_instance_id"])
    deployment = deploy(traffic_group(app, info), make_revision(app))
    finish_host(host, deployment=deployment)
    deployment = refresh(deployment)
    assert (deployment.status, deployment.error_code) == ("Failed", "ELASTIC_LOAD_BALANCING_INVALID")
    assert "not attached" in deployment.error_message


def test_elbv2_refuses_a_host_without_an_ec2_instance_id():
    router = traffic.Elbv2Router({"target_groups": ["arn:aws:elasticloadbalancing:x"], "region": "us-east-1"})
    with pytest.raises(traffic.RouterError) as caught:
        router.shift(traffic.ALLOW, [traffic.Host("web-1", "web-1", "")], {})
    assert caught.value.code == "ELB_INVALID_INSTANCE"
