"""Blue/green through the engine (Celery eager): standby pool, reroute, bake, timeouts, rollback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aws_fixtures import aws_client
from factories import deploy, finish_host, make_app, make_group, make_instance, make_revision, refresh

from deployments import engine
from deployments.models import Deployment, DeploymentGroup, Instance, LifecycleEvent
from deployments.rollout import bluegreen_config

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lb(tmp_path, settings):
    """A file as the load balancer. Blocking a host listed in <tmp>/refuse fails, like a stuck drain."""
    hosts = tmp_path / "lb.hosts"
    refuse = tmp_path / "refuse"
    refuse.write_text("")
    script = tmp_path / "lb.sh"
    script.write_text(
        f"""#!/bin/sh
action=$1; shift
for pair in "$@"; do
  name=${{pair%%=*}}
  if [ "$action" = block ] && grep -qx "$name" {refuse}; then echo "$name will not drain" >&2; exit 5; fi
  touch {hosts}; grep -vx "$name" {hosts} > {hosts}.tmp || true
  [ "$action" = allow ] && echo "$name" >> {hosts}.tmp
  sort {hosts}.tmp > {hosts}
done
"""
    )
    script.chmod(0o755)
    settings.TRAFFIC_COMMANDS = {"filelb": str(script)}
    return hosts, refuse


def setup_fleet(lb, *, reroute="CONTINUE_DEPLOYMENT", originals="RELEASE", rollback=None):
    hosts_file, _ = lb
    app = make_app()
    group = make_group(app, config="CodeDeployDefault.AllAtOnce", tags={"role": "web"})
    blues = [make_instance(f"blue-{i}", role="web") for i in (1, 2)]
    revision = make_revision(app)
    first = deploy(group, revision)
    for host in blues:
        finish_host(host, deployment=first)
    assert refresh(first).status == "Succeeded"
    hosts_file.write_text("blue-1\nblue-2\n")
    greens = [make_instance(f"green-{i}", role="standby") for i in (1, 2)]
    DeploymentGroup.objects.filter(pk=group.pk).update(
        deployment_style="BLUE_GREEN",
        deployment_option="WITH_TRAFFIC_CONTROL",
        load_balancer_info={"router": "command", "command": "filelb"},
        auto_rollback_events=rollback or [],
        blue_green_configuration={
            "replacement": {
                "source": "standby_pool",
                "tag_filters": [{"key": "role", "value": "standby", "type": "KEY_AND_VALUE"}],
            },
            "reroute": {"action": reroute, "wait_seconds": 60},
            "originals": {"action": originals, "wait_seconds": 0},
        },
    )
    group.refresh_from_db()
    return app, group, blues, greens


def run_all(hosts, deployment):
    progress = True
    while progress:
        progress = any(finish_host(h, deployment=deployment) for h in hosts)


def test_replacements_take_the_traffic_and_the_originals_go_back_to_the_pool(lb):
    hosts_file, _ = lb
    app, group, blues, greens = setup_fleet(lb)
    deployment = deploy(group, make_revision(app))
    targets = {t.instance.name: t for t in deployment.targets.select_related("instance")}
    assert {targets[g].role for g in ("green-1", "green-2")} == {"replacement"}
    assert {targets[b].role for b in ("blue-1", "blue-2")} == {"original"}

    run_all(greens + blues, deployment)
    deployment = refresh(deployment)
    assert deployment.status == "Baking"
    assert hosts_file.read_text().split() == ["green-1", "green-2"]

    engine.sweep(now=deployment.wait_until + timedelta(seconds=1))
    assert refresh(deployment).status == "Succeeded"
    tags = dict(Instance.objects.values_list("name", "tags__role"))
    assert tags == {"blue-1": "standby", "blue-2": "standby", "green-1": "web", "green-2": "web"}
    # The next in-place look at the group sees the greens.
    assert sorted(i.name for i in engine.matching_instances(group)) == ["green-1", "green-2"]


def test_waiting_for_continue_keeps_traffic_on_the_originals_until_a_user_says_go(lb):
    hosts_file, _ = lb
    app, group, blues, greens = setup_fleet(lb, reroute="STOP_DEPLOYMENT")
    deployment = deploy(group, make_revision(app))
    run_all(greens, deployment)
    assert refresh(deployment).status == "Ready"
    assert hosts_file.read_text().split() == ["blue-1", "blue-2"]
    assert not any(finish_host(h, deployment=deployment) for h in blues)  # nothing for the originals yet

    assert engine.continue_deployment(deployment.id)
    assert not engine.continue_deployment(deployment.id)
    run_all(greens + blues, deployment)
    assert refresh(deployment).status == "Baking"
    assert hosts_file.read_text().split() == ["green-1", "green-2"]


def test_nobody_continuing_before_the_wait_runs_out_stops_the_deployment(lb):
    app, group, _blues, greens = setup_fleet(lb, reroute="STOP_DEPLOYMENT")
    deployment = deploy(group, make_revision(app))
    run_all(greens, deployment)
    deployment = refresh(deployment)
    engine.sweep(now=deployment.wait_until + timedelta(seconds=1))
    deployment = refresh(deployment)
    assert deployment.status == "Stopped"
    assert deployment.error_code == "TIMEOUT"


def test_an_original_that_will_not_deregister_fails_it_and_the_rollback_moves_traffic_back(lb):
    hosts_file, refuse = lb
    app, group, blues, greens = setup_fleet(lb, rollback=["DEPLOYMENT_FAILURE"])
    refuse.write_text("blue-1\n")
    deployment = deploy(group, make_revision(app))
    run_all(greens + blues, deployment)
    deployment = refresh(deployment)
    assert deployment.status == "Failed"
    block = LifecycleEvent.objects.get(
        target__deployment=deployment, target__instance__name="blue-1", name="BlockTraffic"
    )
    assert "will not drain" in block.message

    rollback = Deployment.objects.get(rollback_of=deployment)
    roles = {t.instance.name: (t.role, [e.name for e in t.events.all()]) for t in rollback.targets.all()}
    assert roles["blue-1"] == ("replacement", ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"])
    assert roles["green-1"] == ("original", ["BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic"])
    run_all(greens + blues, rollback)
    rollback = refresh(rollback)
    assert rollback.status == "Baking"
    engine.sweep(now=rollback.wait_until + timedelta(seconds=1))
    assert refresh(rollback).status == "Succeeded"
    assert hosts_file.read_text().split() == ["blue-1", "blue-2"]
    tags = dict(Instance.objects.values_list("name", "tags__role"))
    assert tags == {"blue-1": "web", "blue-2": "web", "green-1": "standby", "green-2": "standby"}


def test_an_empty_standby_pool_fails_with_no_instances(lb):
    app, group, _blues, _greens = setup_fleet(lb)
    Instance.objects.filter(name__startswith="green").update(tags={"role": "elsewhere"})
    deployment = deploy(group, make_revision(app))
    assert deployment.status == "Failed"
    assert deployment.error_code == "NO_INSTANCES"
    assert "replacement" in deployment.error_message


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "replacement.source"),
        ({"replacement": {"source": "standby_pool"}}, "tag_filters must select"),
        ({"replacement": {"source": "discover", "tag_filters": [{"type": "KEY_ONLY"}]}}, "tag_filters[0]"),
        (
            {
                "replacement": {"source": "discover", "tag_filters": [{"key": "a", "type": "KEY_ONLY"}]},
                "reroute": {"action": "NOW"},
            },
            "reroute.action",
        ),
    ],
)
def test_blue_green_configuration_errors_name_the_field(config, message):
    assert message in bluegreen_config.validate(config)


@pytest.fixture
def autoscaling(aws_env):
    return aws_env, aws_client("ec2", aws_env), aws_client("autoscaling", aws_env)


def test_replacements_can_come_from_a_copy_of_an_auto_scaling_group(lb, autoscaling):
    url, ec2, asg = autoscaling
    template = ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName="web-asg",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=2,
        MaxSize=2,
        DesiredCapacity=2,
        AvailabilityZones=["us-east-1a"],
        Tags=[{"Key": "team", "Value": "shop", "PropagateAtLaunch": True}],
    )
    hosts_file, _ = lb
    app, group, blues, _greens = setup_fleet(lb)
    cfg = dict(group.blue_green_configuration)
    cfg["replacement"] = {
        "source": "asg_copy",
        "auto_scaling_group": "web-asg",
        "region": "us-east-1",
        "endpoint_url": url,
    }
    DeploymentGroup.objects.filter(pk=group.pk).update(blue_green_configuration=cfg)

    deployment = deploy(group, make_revision(app))
    assert deployment.status == "InProgress" and deployment.phase == "provision"
    copy = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[f"fleetdeck-web-{deployment.id}"])[
        "AutoScalingGroups"
    ]
    assert copy and copy[0]["DesiredCapacity"] == 2
    assert {"Key": "fleetdeck:deployment", "Value": deployment.id} in [
        {"Key": t["Key"], "Value": t["Value"]} for t in copy[0]["Tags"]
    ]
    engine.sweep()  # no agent registered yet: still provisioning
    assert refresh(deployment).phase == "provision"

    # The copy's hosts boot, run the agent and register with their EC2 instance ids.
    newcomers = []
    for index, item in enumerate(copy[0]["Instances"], start=1):
        host = make_instance(f"asg-{index}", role="fresh")
        Instance.objects.filter(pk=host.pk).update(ec2_instance_id=item["InstanceId"])
        newcomers.append(host)
    engine.sweep()
    deployment = refresh(deployment)
    assert deployment.phase == "install"
    roles = {t.instance.name: t.role for t in deployment.targets.select_related("instance")}
    assert roles == {
        "asg-1": "replacement",
        "asg-2": "replacement",
        "blue-1": "original",
        "blue-2": "original",
    }
    run_all(newcomers + blues, deployment)
    assert refresh(deployment).status == "Baking"
    assert hosts_file.read_text().split() == ["asg-1", "asg-2"]


def test_a_missing_auto_scaling_group_fails_the_deployment_with_the_reason(lb, autoscaling):
    url, _, _ = autoscaling
    app, group, _blues, _greens = setup_fleet(lb)
    cfg = dict(group.blue_green_configuration)
    cfg["replacement"] = {
        "source": "asg_copy",
        "auto_scaling_group": "nope",
        "region": "us-east-1",
        "endpoint_url": url,
    }
    DeploymentGroup.objects.filter(pk=group.pk).update(blue_green_configuration=cfg)
    deployment = refresh(deploy(group, make_revision(app)))
    assert deployment.status == "Failed"
    assert "does not exist" in deployment.error_message
