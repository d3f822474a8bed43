"""The one place Fleetdeck talks to AWS: a boto3 session from a project's connection."""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from integrations import settings as isettings
from integrations.models import AwsConnection

__all__ = ["AwsClient", "AwsError", "BotoCoreError", "ClientError"]

AwsError = (BotoCoreError, ClientError)


class AwsClient:
    def __init__(self, connection: AwsConnection, *, timeout: float | None = None):
        self.connection = connection
        timeout = timeout or isettings.timeout()
        self.config = Config(
            connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1, "mode": "standard"}
        )
        self.endpoint_url = connection.endpoint_url or None
        session = boto3.session.Session(
            aws_access_key_id=connection.access_key_id or None,
            aws_secret_access_key=connection.secret_access_key or None,
            region_name=connection.region,
        )
        if connection.role_arn:
            creds = session.client("sts", endpoint_url=self.endpoint_url, config=self.config).assume_role(
                RoleArn=connection.role_arn, RoleSessionName="fleetdeck"
            )["Credentials"]
            session = boto3.session.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=connection.region,
            )
        self.session = session

    def client(self, service: str):
        config = self.config
        if service == "s3":
            # SigV4 presigned URLs work in every region and with S3-compatible stores.
            config = config.merge(Config(signature_version="s3v4", s3={"addressing_style": "path"}))
        return self.session.client(service, endpoint_url=self.endpoint_url, config=config)

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
