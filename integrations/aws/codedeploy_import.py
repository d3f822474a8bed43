"""Import an AWS account's CodeDeploy set-up into a project: `manage.py import_codedeploy` and the
Integrations page's button (integrations.tasks.import_codedeploy).

The account is read with boto3 through the project's own AWS connection (codedeploy_read); what it
holds, in CodeDeploy's shapes, goes through the very handlers of the CodeDeploy-compatible endpoint
(deployments/codedeploy: CreateApplication, Create/UpdateDeploymentGroup, CreateDeploymentConfig,
RegisterApplicationRevision's revision mapping), acting as the importing owner. So the import maps
exactly as `aws deploy create-…` against Fleetdeck would, and refuses what they refuse. What Fleetdeck
cannot map is left out of the call and named in the report.

Idempotent: rows are found by name (and revisions by location), so a second run updates them.

Each group's last successful deployment in AWS becomes a finished (Succeeded) deployment of that
revision in the group's history, unless the group has deployments of its own. The engine takes "the
previous revision" from there (deployments.rollback.last_successful: rollbacks and hosts joining the
group). A new group keeps CodeDeploy's deployment group id as its group_id, the folder name agents use,
so `fleetdeck-agent adopt-codedeploy --group ID=ID` carries a host's CodeDeploy state over and the
first Fleetdeck deployment runs the old revision's ApplicationStop.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db import transaction

from deployments import engine
from deployments.codedeploy import revisionmap
from deployments.codedeploy.lookup import DEPLOYMENT_ID
from deployments.codedeploy.ops_applications import create_application
from deployments.codedeploy.ops_configs import create_deployment_config
from deployments.codedeploy.ops_groups import create_deployment_group, update_deployment_group
from deployments.codedeploy.protocol import CodeDeployError, operation_model
from deployments.codedeploy.registry import Caller
from deployments.models import (
    Application,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    DeploymentStatus,
)
from projects.models import AccessKey, Role

from .client import for_project
from .codedeploy_read import Account, Group, read_account
from .ec2_tags import copy_ec2_tags

IMPORTED = "Imported from AWS CodeDeploy: deployment "
# Members of GetDeploymentGroup's answer that describe state, not settings: never mapped, never reported.
_STATE_MEMBERS = {
    "applicationName",
    "deploymentGroupId",
    "deploymentGroupName",
    "targetRevision",
    "lastSuccessfulDeployment",
    "lastAttemptedDeployment",
    "computePlatform",
    "ec2TagSet",
    "onPremisesTagSet",
}


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # per group: matching hosts, history, adopt command
    unmapped: list[str] = field(default_factory=list)

    def text(self) -> str:
        parts = []
        for title, lines in (
            ("Created", self.created),
            ("Updated", self.updated),
            ("Deployment groups", self.groups),
            ("Not imported (Fleetdeck could not map it)", self.unmapped),
        ):
            parts.append(f"{title}: {'none' if not lines else ''}")
            parts.extend(f"  - {line}" for line in lines)
        return "\n".join(parts)


def import_codedeploy(project, user, region: str | None = None, *, copy_tags: bool = False) -> Report:
    """Read the project's AWS account and create or update what it holds in the project. The user
    must own the project (the import may create and change anything in it). With `copy_tags`, agents
    whose EC2 instance id the account confirms get their EC2 tags (integrations.aws.ec2_tags)."""
    caller = Caller(key=AccessKey(user=user, project=project), protocol="import", region=region or "")
    try:
        caller.require(Role.OWNER)
    except CodeDeployError as exc:
        raise PermissionError(exc.message) from None
    aws = for_project(project, region=region)
    account = read_account(aws)
    report = Report(unmapped=list(account.problems))
    if copy_tags:
        copied, problems = copy_ec2_tags(project, aws)
        report.updated.extend(copied)
        report.unmapped.extend(problems)
    _configs(caller, account, report)
    for application in account.applications:
        info = application.info
        name = info["applicationName"]
        if info.get("computePlatform", "Server") != "Server":
            report.unmapped.append(
                f"application {name}: its compute platform is {info['computePlatform']}; Fleetdeck deploys "
                "to servers (EC2 and on-premises) only"
            )
            continue
        row = _application(caller, name, report)
        if row is None:
            continue
        for group in application.groups:
            _group(caller, row, group, report)
        _revisions(caller, row, application.revisions, report)
    return report


def _configs(caller: Caller, account: Account, report: Report) -> None:
    for info in account.configs:
        name = info["deploymentConfigName"]
        for member in ("trafficRoutingConfig", "zonalConfig"):
            if info.get(member):
                report.unmapped.append(f"deployment config {name}: {member} (Fleetdeck has no equivalent)")
        if info.get("computePlatform", "Server") != "Server":
            report.unmapped.append(f"deployment config {name}: it is for {info['computePlatform']}")
            continue
        healthy = info.get("minimumHealthyHosts") or {}
        existing = DeploymentConfig.objects.filter(project=caller.project, builtin=False, name=name).first()
        if existing is not None:
            wanted = (healthy.get("type"), healthy.get("value"))
            if wanted != (existing.minimum_healthy_type, existing.minimum_healthy_value) and all(wanted):
                existing.minimum_healthy_type, existing.minimum_healthy_value = wanted
                existing.save(update_fields=["minimum_healthy_type", "minimum_healthy_value"])
                report.updated.append(f"deployment config {name}")
            continue
        try:
            create_deployment_config(caller, {"deploymentConfigName": name, "minimumHealthyHosts": healthy})
        except CodeDeployError as exc:
            report.unmapped.append(f"deployment config {name}: {exc.message}")
        else:
            report.created.append(f"deployment config {name}")


def _application(caller: Caller, name: str, report: Report) -> Application | None:
    existing = Application.objects.filter(project=caller.project, name=name).first()
    if existing is not None:
        return existing
    try:
        create_application(caller, {"applicationName": name, "computePlatform": "Server"})
    except CodeDeployError as exc:
        report.unmapped.append(f"application {name}: {exc.message}")
        return None
    report.created.append(f"application {name}")
    return Application.objects.get(project=caller.project, name=name)


def group_params(info: dict, report: Report) -> dict:
    """CreateDeploymentGroup's input from GetDeploymentGroup's deploymentGroupInfo, without what
    Fleetdeck cannot map (each named in the report)."""
    where = f"group {info['applicationName']}/{info['deploymentGroupName']}"
    accepted = set(operation_model("CreateDeploymentGroup").input_shape.members)
    params = {k: v for k, v in info.items() if k in accepted and v not in (None, [], {})}
    for key, value in info.items():
        if key not in accepted and key not in _STATE_MEMBERS and value not in (None, [], {}, False):
            report.unmapped.append(f"{where}: {key}")
    # An answer's tag sets may be empty structures; a request may give only a non-empty one.
    for member, inner in (("ec2TagSet", "ec2TagSetList"), ("onPremisesTagSet", "onPremisesTagSetList")):
        if (info.get(member) or {}).get(inner):
            params[member] = info[member]
    if params.get("ecsServices"):
        report.unmapped.append(f"{where}: ecsServices (Fleetdeck deploys to servers, not ECS)")
        params.pop("ecsServices")
    balancer = dict(params.get("loadBalancerInfo") or {})
    for member, why in (
        ("elbInfoList", "Classic Load Balancers are not supported; use target groups"),
        ("targetGroupPairInfoList", "target group pairs are for ECS"),
    ):
        if balancer.pop(member, None):
            report.unmapped.append(f"{where}: loadBalancerInfo.{member} ({why})")
    if "loadBalancerInfo" in params:
        params["loadBalancerInfo"] = balancer
    groups = [
        name
        for g in params.pop("autoScalingGroups", [])
        if (name := g.get("name") if isinstance(g, dict) else g)
    ]
    copying = (
        (params.get("blueGreenDeploymentConfiguration") or {}).get("greenFleetProvisioningOption") or {}
    ).get("action") == "COPY_AUTO_SCALING_GROUP"
    if groups and copying:
        params["autoScalingGroups"] = groups
    elif groups:
        report.unmapped.append(
            f"{where}: autoScalingGroups {', '.join(groups)} (Fleetdeck selects hosts by their agents' tags: "
            "tag the hosts' agents as the group's tag filters say)"
        )
    tag_filters = params.get("ec2TagFilters") or params.get("onPremisesInstanceTagFilters")
    if tag_filters and (params.get("ec2TagSet") or params.get("onPremisesTagSet")):
        report.unmapped.append(f"{where}: its tag filters (it has a tag set too, which Fleetdeck keeps)")
        params.pop("ec2TagFilters", None)
        params.pop("onPremisesInstanceTagFilters", None)
    if params.get("ec2TagSet") and params.get("onPremisesTagSet"):
        report.unmapped.append(f"{where}: onPremisesTagSet (it has an ec2TagSet too, which Fleetdeck keeps)")
        params.pop("onPremisesTagSet")
    if params.get("triggerConfigurations"):
        report.unmapped.append(
            f"{where}: triggerConfigurations are kept and shown but not delivered (SNS); add a Fleetdeck trigger"
        )
    return params


def _group(caller: Caller, application: Application, group: Group, report: Report) -> None:
    info = group.info
    name = info["deploymentGroupName"]
    where = f"{application.name}/{name}"
    params = group_params(info, report)
    existing = DeploymentGroup.objects.filter(application=application, name=name).first()
    try:
        if existing is None:
            with transaction.atomic():
                create_deployment_group(caller, params)
                row = DeploymentGroup.objects.get(application=application, name=name)
                _keep_group_id(row, info.get("deploymentGroupId"))
            report.created.append(f"deployment group {where}")
        else:
            update = {k: v for k, v in params.items() if k != "deploymentGroupName"}
            update_deployment_group(caller, {**update, "currentDeploymentGroupName": name})
            report.updated.append(f"deployment group {where}")
    except CodeDeployError as exc:
        report.unmapped.append(f"group {where}: not imported: {exc.message}")
        return
    row = DeploymentGroup.objects.select_related("application", "deployment_config").get(
        application=application, name=name
    )
    history = _last_success(caller, row, group.last_success, report)
    hosts = len(engine.matching_instances(row))
    line = f"{where}: {hosts} registered instance{'s' if hosts != 1 else ''} match its tags now"
    if history:
        line += f"; {history}"
    aws_id = info.get("deploymentGroupId")
    if aws_id:
        line += (
            f"; on hosts CodeDeploy deployed to, run: fleetdeck-agent adopt-codedeploy --group "
            f"{aws_id}={row.group_id}"
        )
    report.groups.append(line)


def _keep_group_id(row: DeploymentGroup, aws_id: str | None) -> None:
    """A new group keeps CodeDeploy's id (hooks see it as DEPLOYMENT_GROUP_ID, agents name folders by
    it), unless it is not a UUID or another group has it."""
    try:
        wanted = uuid.UUID(str(aws_id))
    except ValueError:
        return
    if not DeploymentGroup.objects.filter(group_id=wanted).exists():
        DeploymentGroup.objects.filter(pk=row.pk).update(group_id=wanted)


def _last_success(caller: Caller, row: DeploymentGroup, deployment: dict | None, report: Report) -> str:
    """Record AWS's last successful deployment of the group as a finished deployment in its history."""
    if not deployment:
        return ""
    aws_id = deployment.get("deploymentId", "")
    marker = f"{IMPORTED}{aws_id}"
    history = Deployment.objects.filter(deployment_group=row)
    if history.filter(description__startswith=marker).exists():
        return f"its last successful revision (CodeDeploy {aws_id}) was imported before"
    if history.exclude(description__startswith=IMPORTED).exists():
        return (
            f"it has Fleetdeck deployments of its own, so CodeDeploy's {aws_id} is not added to its history"
        )
    try:
        revision = revisionmap.register(
            row.application, revisionmap.check_kind(deployment.get("revision")), caller.user
        )
    except CodeDeployError as exc:
        report.unmapped.append(
            f"group {row.application.name}/{row.name}: last successful revision: {exc.message}"
        )
        return ""
    taken = not DEPLOYMENT_ID.match(aws_id) or Deployment.objects.filter(pk=aws_id).exists()
    created = deployment.get("createTime")
    ended = deployment.get("completeTime") or created
    with transaction.atomic():
        recorded = Deployment.objects.create(
            **({} if taken else {"id": aws_id}),
            application=row.application,
            deployment_group=row,
            revision=revision,
            deployment_config=row.deployment_config,
            status=DeploymentStatus.SUCCEEDED,
            created_by=caller.user,
            description=f"{marker} ({revision.display_name})"[:500],
            file_exists_behavior=deployment.get("fileExistsBehavior") or row.file_exists_behavior,
        )
        if created:
            Deployment.objects.filter(pk=recorded.pk).update(
                created_at=created, started_at=created, ended_at=ended
            )
        else:
            Deployment.objects.filter(pk=recorded.pk).update(ended_at=recorded.created_at)
    return f"its last successful revision ({revision.display_name}, CodeDeploy {aws_id}) is in its history"


def _revisions(caller: Caller, application: Application, locations: list[dict], report: Report) -> None:
    for location in locations:
        try:
            known = revisionmap.find(application, revisionmap.check_kind(location)) is not None
            revision = revisionmap.register(application, location, caller.user)
        except CodeDeployError as exc:
            report.unmapped.append(f"revision of {application.name}: {exc.message}")
            continue
        if not known:
            report.created.append(f"revision {revision.display_name} of {application.name}")
