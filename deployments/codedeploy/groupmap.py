"""A deployment group in CodeDeploy's words and in the REST API's, both ways.

Fleetdeck selects hosts by their agents' tags, so EC2 and on-premises tag filters and tag sets both
become the group's tag filters (ORed) or tag set (ANDed groups of ORed filters). What a request said
is kept (CodeDeployGroupSettings.given) and shown back while it still matches the group's columns.
"""

from __future__ import annotations

from deployments.models import CodeDeployGroupSettings, DeploymentGroup, DeploymentStyle

from .protocol import CodeDeployError

TAG_MEMBERS = ("ec2TagFilters", "onPremisesInstanceTagFilters", "ec2TagSet", "onPremisesTagSet")
KEPT = (
    *TAG_MEMBERS,
    "autoRollbackConfiguration",
    "alarmConfiguration",
    "loadBalancerInfo",
    "blueGreenDeploymentConfiguration",
    "autoScalingGroups",
)
# What a group's blue/green "discover" replacement fleet is: hosts whose agents carry this tag with the
# group's name (CodeDeploy picks them per deployment; Fleetdeck keeps them tagged).
GREEN_TAG = "codedeploy-green-for"


def _filters(items: list[dict]) -> list[dict]:
    return [
        {"key": f.get("Key", ""), "value": f.get("Value", ""), "type": f.get("Type", "KEY_AND_VALUE")}
        for f in items
    ]


def _aws_filters(items: list[dict]) -> list[dict]:
    # A filter without a type is KEY_AND_VALUE, as the planner reads it (older rows may lack it).
    return [
        {"Key": f.get("key", ""), "Value": f.get("value", ""), "Type": f.get("type") or "KEY_AND_VALUE"}
        for f in items
    ]


def tags_in(params: dict) -> dict:
    """tag_filters / tag_set for the REST serializer, from whichever tag members the request gave."""
    given = {m: params[m] for m in TAG_MEMBERS if m in params}
    if not given:
        return {}
    filters = _filters(given.get("ec2TagFilters", []) + given.get("onPremisesInstanceTagFilters", []))
    sets = [
        _filters(group)
        for member, key in (("ec2TagSet", "ec2TagSetList"), ("onPremisesTagSet", "onPremisesTagSetList"))
        for group in (given.get(member) or {}).get(key, [])
    ]
    if filters and sets:
        raise CodeDeployError(
            "InvalidTagFilterException"
            if "ec2TagFilters" not in given
            else "InvalidEC2TagCombinationException",
            "Give tag filters or a tag set, not both.",
        )
    if "ec2TagSet" in given and "onPremisesTagSet" in given:
        raise CodeDeployError(
            "InvalidOnPremisesTagCombinationException",
            "Fleetdeck matches every host by its agent's tags: give one tag set (ec2TagSet or onPremisesTagSet).",
        )
    return {"tag_filters": filters, "tag_set": sets}


def config_in(params: dict, group_name: str) -> dict:
    """The REST serializer's fields for everything but the names and tags."""
    data: dict = {}
    if "deploymentConfigName" in params:
        data["deployment_config"] = params["deploymentConfigName"]
    if "outdatedInstancesStrategy" in params:
        data["outdated_instances_strategy"] = params["outdatedInstancesStrategy"]
    if (style := params.get("deploymentStyle")) is not None:
        if "deploymentType" in style:
            data["deployment_style"] = style["deploymentType"]
        if "deploymentOption" in style:
            data["deployment_option"] = style["deploymentOption"]
    if (rollback := params.get("autoRollbackConfiguration")) is not None:
        data["auto_rollback_events"] = rollback.get("events", []) if rollback.get("enabled") else []
    if (alarms := params.get("alarmConfiguration")) is not None:
        names = [a["name"] for a in alarms.get("alarms", []) if a.get("name")]
        data["alarm_configuration"] = (
            {
                "enabled": alarms.get("enabled", False),
                "alarms": names,
                "ignore_poll_alarm_failure": alarms.get("ignorePollAlarmFailure", False),
            }
            if names
            else {}
        )
    if (balancer := params.get("loadBalancerInfo")) is not None:
        data["load_balancer_info"] = _load_balancer_in(balancer)
    if (blue_green := params.get("blueGreenDeploymentConfiguration")) is not None:
        data["blue_green_configuration"] = _blue_green_in(
            blue_green, params.get("autoScalingGroups") or [], group_name
        )
    elif params.get("autoScalingGroups"):
        raise CodeDeployError(
            "InvalidAutoScalingGroupException",
            "Fleetdeck selects hosts by their agents' tags, not by Auto Scaling group: give tag filters (an "
            "Auto Scaling group is used only as the template of a blue/green copy).",
        )
    if params.get("ecsServices"):
        raise CodeDeployError(
            "InvalidECSServiceException", "Fleetdeck deploys to servers, not to ECS services."
        )
    return data


def _load_balancer_in(balancer: dict) -> dict:
    if balancer.get("elbInfoList"):
        raise CodeDeployError(
            "InvalidLoadBalancerInfoException",
            "Classic Load Balancers (elbInfoList) are not supported: use Application or Network Load Balancer "
            "target groups (targetGroupInfoList).",
        )
    if balancer.get("targetGroupPairInfoList"):
        raise CodeDeployError(
            "InvalidTargetGroupPairException",
            "Target group pairs are for ECS, which Fleetdeck does not deploy to.",
        )
    groups = [g["name"] for g in balancer.get("targetGroupInfoList", []) if g.get("name")]
    return {"router": "elbv2", "target_groups": groups} if groups else {}


def _minutes(value) -> int:
    return int(value or 0) * 60


def _blue_green_in(cfg: dict, auto_scaling_groups: list[str], group_name: str) -> dict:
    if not cfg:
        return {}
    provisioning = (cfg.get("greenFleetProvisioningOption") or {}).get("action", "DISCOVER_EXISTING")
    if provisioning == "COPY_AUTO_SCALING_GROUP":
        if not auto_scaling_groups:
            raise CodeDeployError(
                "InvalidBlueGreenDeploymentConfigurationException",
                "COPY_AUTO_SCALING_GROUP needs autoScalingGroups naming the group to copy.",
            )
        replacement = {"source": "asg_copy", "auto_scaling_group": auto_scaling_groups[0]}
    else:
        replacement = {
            "source": "discover",
            "tag_filters": [{"key": GREEN_TAG, "value": group_name, "type": "KEY_AND_VALUE"}],
        }
    ready = cfg.get("deploymentReadyOption") or {}
    terminate = cfg.get("terminateBlueInstancesOnDeploymentSuccess") or {}
    return {
        "replacement": replacement,
        "reroute": {
            "action": ready.get("actionOnTimeout", "CONTINUE_DEPLOYMENT"),
            "wait_seconds": _minutes(ready.get("waitTimeInMinutes"))
            or (0 if "actionOnTimeout" not in ready else 3600),
        },
        "originals": {
            "action": terminate.get("action", "KEEP_ALIVE"),
            "wait_seconds": _minutes(terminate.get("terminationWaitTimeInMinutes")),
        },
    }


def settings_of(group: DeploymentGroup) -> CodeDeployGroupSettings | None:
    try:
        return group.codedeploy_settings
    except CodeDeployGroupSettings.DoesNotExist:
        return None


def keep(group: DeploymentGroup, params: dict) -> None:
    """Store what the REST columns cannot hold, and the request's own spelling of what they can."""
    kept, _ = CodeDeployGroupSettings.objects.get_or_create(group=group)
    given = dict(kept.given or {})
    if any(m in params for m in TAG_MEMBERS):
        for member in TAG_MEMBERS:
            given.pop(member, None)
    for member in KEPT:
        if member in params:
            given[member] = params[member]
    kept.given = given
    if "serviceRoleArn" in params:
        kept.service_role_arn = params["serviceRoleArn"]
    if "triggerConfigurations" in params:
        kept.trigger_configurations = params["triggerConfigurations"]
    kept.save()


def check_triggers(params: dict) -> None:
    for trigger in params.get("triggerConfigurations") or []:
        arn = trigger.get("triggerTargetArn", "")
        if arn and not arn.startswith("arn:"):
            raise CodeDeployError("InvalidTriggerConfigException", f"{arn[:80]} is not an SNS topic ARN.")
    if (role := params.get("serviceRoleArn")) and not role.startswith("arn:"):
        raise CodeDeployError("InvalidRoleException", f"{role[:80]} is not an IAM role ARN.")


def _still(given: dict, member: str, now: dict, mapper) -> bool:
    try:
        return member in given and mapper(given) == now
    except CodeDeployError:
        return False


def out(group: DeploymentGroup) -> dict:
    """The CodeDeploy members that describe `group`'s settings (no deployments, no names)."""
    kept = settings_of(group)
    given = (kept.given if kept else {}) or {}
    result: dict = {}
    tags_now = {"tag_filters": group.tag_filters or [], "tag_set": group.tag_set or []}
    if any(m in given for m in TAG_MEMBERS) and _still(
        given, next(m for m in TAG_MEMBERS if m in given), tags_now, tags_in
    ):
        result.update({m: given[m] for m in TAG_MEMBERS if m in given})
    elif group.tag_set:
        result["onPremisesTagSet"] = {"onPremisesTagSetList": [_aws_filters(g) for g in group.tag_set]}
    else:
        result["onPremisesInstanceTagFilters"] = _aws_filters(group.tag_filters or [])
    events = group.auto_rollback_events or []
    result["autoRollbackConfiguration"] = {"enabled": bool(events), "events": events}
    alarms = group.alarm_configuration or {}
    result["alarmConfiguration"] = {
        "enabled": bool(alarms.get("enabled", False)),
        "ignorePollAlarmFailure": bool(alarms.get("ignore_poll_alarm_failure", False)),
        "alarms": [{"name": name} for name in alarms.get("alarms", [])],
    }
    balancer = group.load_balancer_info or {}
    if balancer.get("router") == "elbv2":
        result["loadBalancerInfo"] = {
            "targetGroupInfoList": [{"name": n} for n in balancer.get("target_groups", [])]
        }
    result["deploymentStyle"] = {
        "deploymentType": group.deployment_style,
        "deploymentOption": group.deployment_option,
    }
    result["outdatedInstancesStrategy"] = group.outdated_instances_strategy
    if group.deployment_style == DeploymentStyle.BLUE_GREEN and group.blue_green_configuration:
        result["blueGreenDeploymentConfiguration"] = _blue_green_out(group.blue_green_configuration)
    if given.get("autoScalingGroups"):
        result["autoScalingGroups"] = [{"name": n} for n in given["autoScalingGroups"]]
    if kept is not None:
        result["serviceRoleArn"] = kept.service_role_arn or None
        result["triggerConfigurations"] = kept.trigger_configurations or []
    return result


def _blue_green_out(cfg: dict) -> dict:
    source = (cfg.get("replacement") or {}).get("source")
    reroute, originals = cfg.get("reroute") or {}, cfg.get("originals") or {}
    terminate_action = originals.get("action", "KEEP_ALIVE")
    return {
        "greenFleetProvisioningOption": {
            "action": "COPY_AUTO_SCALING_GROUP" if source == "asg_copy" else "DISCOVER_EXISTING"
        },
        "deploymentReadyOption": {
            "actionOnTimeout": reroute.get("action", "CONTINUE_DEPLOYMENT"),
            "waitTimeInMinutes": int(float(reroute.get("wait_seconds", 0)) // 60),
        },
        "terminateBlueInstancesOnDeploymentSuccess": {
            "action": terminate_action if terminate_action in ("TERMINATE", "KEEP_ALIVE") else "KEEP_ALIVE",
            "terminationWaitTimeInMinutes": int(float(originals.get("wait_seconds", 0)) // 60),
        },
    }
