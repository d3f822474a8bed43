"""The one place Fleetdeck talks to AWS: a boto3 session from a project's connection.

Whose credentials act for a project is decided here and nowhere else (`for_project`):
* the project's own access keys, if its connection has them;
* else an IAM role of the project's, assumed with the project's external ID (the server's own chain
  may always call sts:AssumeRole for that, and for nothing else);
* else the server's own chain, only where the operator allows it for this project
  (FLEETDECK_AWS_DEFAULT_CREDENTIALS = all, or a list of slugs; none by default);
* else an error that says what to configure. There is no silent fallback.
A custom endpoint_url (the connection's, or a group's for ELB, alarms and provisioning) goes through
the outbound-request policy (core.outbound.bind_boto_client).
"""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from core import outbound
from deployments.integration_points import NotConfigured
from integrations.models import AwsConnection, external_id_for

__all__ = ["AwsClient", "AwsError", "AwsNotConfigured", "BotoCoreError", "ClientError", "for_project"]

AwsError = (BotoCoreError, ClientError)
DEFAULT_REGION = "us-east-1"


class AwsNotConfigured(BotoCoreError, NotConfigured):
    """The project has no credentials of its own and may not use the server's."""

    fmt = "{message}"


def default_credentials_allowed(slug: str | None) -> bool:
    """May the server's own AWS credential chain act for the project with this slug?"""
    words = [w.strip() for w in getattr(settings, "AWS_DEFAULT_CREDENTIALS", ["none"]) or ["none"]]
    lowered = [w.lower() for w in words]
    if lowered == ["all"]:
        return True
    if lowered == ["none"] or not slug:
        return False
    return slug in words


def not_configured_message(slug: str | None) -> str:
    who = f"Project {slug}" if slug else "This project"
    return (
        f"{who} has no AWS credentials of its own. An owner adds access keys, or an IAM role ARN for the "
        "server to assume with the project's external ID, under Integrations > AWS. (The server's own AWS "
        "credentials act only for the projects an operator lists in FLEETDECK_AWS_DEFAULT_CREDENTIALS.)"
    )


def for_project(
    project,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    timeout: float | None = None,
    config: Config | None = None,
) -> AwsClient:
    """The AWS client every call site uses for a project. `region` and `endpoint_url` (a group's ELB,
    alarm or Auto Scaling settings) override the connection's; the credentials are always the project's."""
    project_id = getattr(project, "pk", project)
    connection = (
        AwsConnection.objects.select_related("project").filter(project_id=project_id).first()
        if project_id is not None
        else None
    )
    slug = connection.project.slug if connection else getattr(project, "slug", None)
    return AwsClient(
        connection, slug=slug, region=region, endpoint_url=endpoint_url, timeout=timeout, config=config
    )


class AwsClient:
    def __init__(
        self,
        connection: AwsConnection | None,
        *,
        timeout: float | None = None,
        slug: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        config: Config | None = None,
    ):
        self.connection = connection
        timeout = timeout or settings.FLEETDECK_INTEGRATIONS_TIMEOUT
        self.config = config or Config(
            connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1, "mode": "standard"}
        )
        if slug is None and connection is not None:
            slug = connection.project.slug
        self.region = region or (connection.region if connection else "") or DEFAULT_REGION
        self.endpoint_url = endpoint_url or (connection.endpoint_url if connection else "") or None
        has_keys = bool(connection and connection.access_key_id and connection.secret_access_key)
        role_arn = connection.role_arn if connection else ""
        if has_keys:
            session = boto3.session.Session(
                aws_access_key_id=connection.access_key_id,
                aws_secret_access_key=connection.secret_access_key,
                region_name=self.region,
            )
        elif role_arn or default_credentials_allowed(slug):
            # The server's own chain: for sts:AssumeRole of the project's role, or where the operator allows.
            session = boto3.session.Session(region_name=self.region)
        else:
            raise AwsNotConfigured(message=not_configured_message(slug))
        if role_arn:
            external_id = connection.external_id or external_id_for(connection.project_id)
            sts = outbound.bind_boto_client(
                session.client("sts", endpoint_url=self.endpoint_url, config=self.config), self.endpoint_url
            )
            creds = sts.assume_role(
                RoleArn=role_arn,
                RoleSessionName=f"fleetdeck-{slug or 'project'}"[:64],
                ExternalId=external_id,
            )["Credentials"]
            session = boto3.session.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=self.region,
            )
        self.session = session

    def client(self, service: str):
        config = self.config
        if service == "s3":
            # SigV4 presigned URLs work in every region and with S3-compatible stores.
            config = config.merge(Config(signature_version="s3v4", s3={"addressing_style": "path"}))
        client = self.session.client(service, endpoint_url=self.endpoint_url, config=config)
        return outbound.bind_boto_client(client, self.endpoint_url)

    def verify_instances(self, instance_ids: list[str]) -> list[str]:
        """Which of these EC2 instance ids the project's account does not have (DescribeInstances).
        An agent reports its own id; this is what stops one from naming another account's host."""
        wanted = sorted(set(instance_ids))
        if not wanted:
            return []
        try:
            reservations = self.client("ec2").describe_instances(InstanceIds=wanted)["Reservations"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "").startswith("InvalidInstanceID"):
                return wanted if len(wanted) == 1 else self._one_by_one(wanted)
            raise
        found = {i["InstanceId"] for r in reservations for i in r["Instances"]}
        return [i for i in wanted if i not in found]

    def _one_by_one(self, ids: list[str]) -> list[str]:
        return [i for i in ids if self.verify_instances([i])]

    # --- S3 ---------------------------------------------------------------------------------

    def head_object(self, bucket: str, key: str, version: str | None = None) -> dict:
        kwargs = {"Bucket": bucket, "Key": key}
        if version:
            kwargs["VersionId"] = version
        return self.client("s3").head_object(**kwargs)

    def put_object(self, bucket: str, key: str, path: str) -> dict:
        with open(path, "rb") as body:
            return self.client("s3").put_object(Bucket=bucket, Key=key, Body=body)

    def presign(self, bucket: str, key: str, version: str | None = None, expires: int = 3600) -> str:
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        return self.client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    # --- EC2 and Auto Scaling ---------------------------------------------------------------

    def instances_by_tags(self, tag_filters: list[dict]) -> set[str]:
        """Running or pending instances matching any of the filters (ORed, as CodeDeploy does)."""
        ec2 = self.client("ec2")
        found: set[str] = set()
        for tag in tag_filters:
            key, value = tag.get("key", ""), tag.get("value", "")
            filters = [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
            if key and value:
                filters.append({"Name": f"tag:{key}", "Values": [value]})
            elif key:
                filters.append({"Name": "tag-key", "Values": [key]})
            elif value:
                filters.append({"Name": "tag-value", "Values": [value]})
            else:
                continue
            for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
                for reservation in page["Reservations"]:
                    found.update(i["InstanceId"] for i in reservation["Instances"])
        return found

    def instances_in_asgs(self, names: list[str]) -> set[str]:
        if not names:
            return set()
        data = self.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=names)
        return {i["InstanceId"] for g in data["AutoScalingGroups"] for i in g.get("Instances", [])}

    def caller_identity(self) -> dict:
        return self.client("sts").get_caller_identity()
