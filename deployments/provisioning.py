"""Blue/green replacements provisioned by copying an Auto Scaling group (boto3).

The copy is named after the deployment (``fleetdeck-<group>-<deployment id>``) and launched from the
original group's launch template or configuration, sizes, subnets and tags. Its instances run the
agent from their user data and register with Fleetdeck, reporting their EC2 instance ids; once every
instance of the copy has a registered agent, they become the deployment's replacement fleet. The
sweep checks progress, so no worker sits waiting for EC2.

`replacement` configuration: ``{"source": "asg_copy", "auto_scaling_group": "web-asg",
"region": "eu-west-1", "endpoint_url": null, "timeout": 900}``.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from . import integration_points
from .models import Deployment, Instance


def _client(cfg: dict, deployment: Deployment):
    """Auto Scaling with the deployment's project's AWS connection (integration_points.aws_for_project)."""
    from botocore.config import Config

    return integration_points.aws_for_project(
        deployment.deployment_group.application.project_id,
        region=cfg.get("region") or None,
        endpoint_url=cfg.get("endpoint_url") or None,
        config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"}),
    ).client("autoscaling")


def copy_name(deployment: Deployment) -> str:
    return f"fleetdeck-{deployment.deployment_group.name}-{deployment.id}"[:255]


def create_copy(deployment: Deployment, cfg: dict) -> str:
    """Create the copy (idempotent: an existing copy of the same name is kept). Returns its name."""
    client = _client(cfg, deployment)
    source_name = cfg["auto_scaling_group"]
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[source_name])["AutoScalingGroups"]
    if not groups:
        raise LookupError(
            f"Auto Scaling group {source_name!r} does not exist in {cfg.get('region') or 'the default region'}"
        )
    source = groups[0]
    name = copy_name(deployment)
    if client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]:
        return name
    args = {
        "AutoScalingGroupName": name,
        "MinSize": source["MinSize"],
        "MaxSize": source["MaxSize"],
        "DesiredCapacity": source["DesiredCapacity"],
        "Tags": [
            {"Key": t["Key"], "Value": t["Value"], "PropagateAtLaunch": t.get("PropagateAtLaunch", True)}
            for t in source.get("Tags", [])
            if not t["Key"].startswith("aws:")
        ]
        + [{"Key": "fleetdeck:deployment", "Value": deployment.id, "PropagateAtLaunch": True}],
    }
    if source.get("LaunchTemplate"):
        template = source["LaunchTemplate"]
        args["LaunchTemplate"] = {k: v for k, v in template.items() if k in ("LaunchTemplateId", "Version")}
    elif source.get("LaunchConfigurationName"):
        args["LaunchConfigurationName"] = source["LaunchConfigurationName"]
    if source.get("VPCZoneIdentifier"):
        args["VPCZoneIdentifier"] = source["VPCZoneIdentifier"]
    else:
        args["AvailabilityZones"] = source["AvailabilityZones"]
    client.create_auto_scaling_group(**args)
    return name


def registered_replacements(deployment: Deployment, cfg: dict) -> tuple[list[Instance], int]:
    """(instances of the copy whose agents have registered, desired capacity of the copy)."""
    client = _client(cfg, deployment)
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[copy_name(deployment)])[
        "AutoScalingGroups"
    ]
    if not groups:
        return [], -1
    group = groups[0]
    ids = [i["InstanceId"] for i in group.get("Instances", []) if i.get("LifecycleState") == "InService"]
    project_id = deployment.deployment_group.application.project_id
    found = list(
        Instance.objects.filter(ec2_instance_id__in=ids, deregistered_at__isnull=True, project_id=project_id)
    )
    return found, group["DesiredCapacity"]


def timed_out(deployment: Deployment, cfg: dict) -> bool:
    started = deployment.started_at or deployment.created_at
    return timezone.now() - started > timedelta(seconds=float(cfg.get("timeout", 900)))


def delete_group(name: str, cfg: dict, deployment: Deployment) -> None:
    _client(cfg, deployment).delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
