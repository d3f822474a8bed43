"""Copy EC2 tags onto the project's agents whose EC2 instance id the project's AWS account confirms.

Fleetdeck selects hosts by their agents' tags; CodeDeploy's EC2 tag filters select by EC2 tags. For a
host whose agent reported an EC2 instance id that DescribeInstances, through the project's own
connection, finds in the account, the EC2 tags are the same host's, so the import may copy them over
(`import_codedeploy --copy-ec2-tags`). An agent's own tags win; AWS's reserved `aws:` tags are left out.
"""

from __future__ import annotations

from deployments.agent_api.validation import BadRequest
from deployments.agent_api.validation import tags as checked_tags
from deployments.models import Instance

from .client import AwsClient


def copy_ec2_tags(project, aws: AwsClient) -> tuple[list[str], list[str]]:
    """(lines saying which hosts got which tags, lines saying which could not be verified or tagged)."""
    hosts = list(
        Instance.objects.filter(project=project, deregistered_at__isnull=True).exclude(ec2_instance_id="")
    )
    if not hosts:
        return [], []
    ids = sorted({h.ec2_instance_id for h in hosts})
    unknown = set(aws.verify_instances(ids))
    found: dict[str, dict[str, str]] = {}
    verified = [i for i in ids if i not in unknown]
    if verified:
        pages = aws.client("ec2").get_paginator("describe_instances").paginate(InstanceIds=verified)
        for page in pages:
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    found[instance["InstanceId"]] = {
                        t["Key"]: t["Value"]
                        for t in instance.get("Tags") or []
                        if not t["Key"].startswith("aws:")
                    }
    copied, problems = [], []
    for host in hosts:
        if host.ec2_instance_id in unknown:
            problems.append(
                f"instance {host.name}: {host.ec2_instance_id} is not in the project's AWS account; no EC2 tags copied"
            )
            continue
        current = dict(host.tags or {})
        new = {k: v for k, v in found.get(host.ec2_instance_id, {}).items() if k not in current}
        if not new:
            continue
        try:
            host.tags = checked_tags({**current, **new})
        except BadRequest as exc:
            problems.append(f"instance {host.name}: EC2 tags not copied: {exc.message}")
            continue
        host.save(update_fields=["tags"])
        copied.append(
            f"EC2 tags of {host.ec2_instance_id} (verified through the project's AWS connection) copied onto "
            f"instance {host.name}: {', '.join(f'{k}={v}' for k, v in sorted(new.items()))}"
        )
    return copied, problems
