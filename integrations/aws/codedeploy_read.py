"""What an AWS account holds in CodeDeploy, read with boto3 through the project's connection.

Only reads (List*, BatchGet*, Get*): the import never changes anything in AWS. Everything comes back
in CodeDeploy's own shapes (botocore's parsed output), which is what the CodeDeploy-compatible endpoint's
handlers take as input, so the import can hand them over unchanged (see codedeploy_import).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .client import AwsClient, ClientError

BUILTIN_PREFIX = "CodeDeployDefault."
BATCH = 100  # BatchGetApplications / BatchGetDeploymentGroups take at most 100 names
LATEST_REVISIONS = 5  # per application, newest registered first


@dataclass
class Group:
    info: dict
    last_success: dict | None = None  # GetDeployment's deploymentInfo of lastSuccessfulDeployment


@dataclass
class Application:
    info: dict
    groups: list[Group] = field(default_factory=list)
    revisions: list[dict] = field(default_factory=list)  # RevisionLocation, newest first


@dataclass
class Account:
    configs: list[dict] = field(default_factory=list)  # deploymentConfigInfo of the custom configs
    applications: list[Application] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be read


def _names(client, operation: str, key: str, **kwargs) -> list[str]:
    out: list[str] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        out.extend(page.get(key) or [])
    return out


def _chunks(items: list[str]):
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def read_account(aws: AwsClient) -> Account:
    """The account's applications, their groups (with each group's last successful deployment), custom
    deployment configs and latest revisions. Raises the client's errors for a failing list call."""
    client = aws.client("codedeploy")
    account = Account()
    for name in _names(client, "list_deployment_configs", "deploymentConfigsList"):
        if name.startswith(BUILTIN_PREFIX):
            continue
        account.configs.append(
            client.get_deployment_config(deploymentConfigName=name)["deploymentConfigInfo"]
        )
    names = _names(client, "list_applications", "applications")
    for chunk in _chunks(names):
        for info in client.batch_get_applications(applicationNames=chunk).get("applicationsInfo") or []:
            account.applications.append(Application(info))
    for application in account.applications:
        _read_application(client, application, account)
    return account


def _read_application(client, application: Application, account: Account) -> None:
    name = application.info["applicationName"]
    if application.info.get("computePlatform", "Server") != "Server":
        return
    groups = _names(client, "list_deployment_groups", "deploymentGroups", applicationName=name)
    for chunk in _chunks(groups):
        found = client.batch_get_deployment_groups(applicationName=name, deploymentGroupNames=chunk)
        for info in found.get("deploymentGroupsInfo") or []:
            application.groups.append(Group(info, _last_success(client, info, account)))
        if found.get("errorMessage"):
            account.problems.append(f"{name}: {found['errorMessage']}")
    page = client.list_application_revisions(
        applicationName=name, sortBy="registerTime", sortOrder="descending"
    )
    application.revisions = list(page.get("revisions") or [])[:LATEST_REVISIONS]


def _last_success(client, info: dict, account: Account) -> dict | None:
    summary = info.get("lastSuccessfulDeployment") or {}
    deployment_id = summary.get("deploymentId")
    if not deployment_id:
        return None
    try:
        return client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    except ClientError as exc:
        account.problems.append(
            f"{info.get('applicationName')}/{info.get('deploymentGroupName')}: could not read its last "
            f"successful deployment {deployment_id}: {exc.response.get('Error', {}).get('Message', exc)}"
        )
        return None
