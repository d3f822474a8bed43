"""boto3's CodeDeploy client against the live stack (uvicorn, worker, real agents), once per wire
protocol: a whole pipeline as a team moving off CodeDeploy runs it, with S3 on moto's server."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from aws_fixtures import aws_client
from e2e_harness import Fleet, read_records, recording_bundle

from projects.models import AccessKey, ApiToken, Project

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "codedeploy"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))
from codedeploy_helpers import client as codedeploy_client
from factories import make_aws

ROLE = "arn:aws:iam::123456789012:role/CodeDeployServiceRole"


def _key(fleet: Fleet) -> tuple[AccessKey, str]:
    token = fleet.api.session.headers["Authorization"].removeprefix("Token ")
    user = ApiToken.authenticate(token).user
    return AccessKey.issue(user, Project.objects.get(slug=fleet.project))


def _status(codedeploy, deployment_id: str) -> str:
    return codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"]


@pytest.mark.parametrize("protocol", ["json", "cbor"])
def test_boto3_runs_a_pipeline_against_fleetdeck(fleet, live_stack, aws_env, tmp_path, protocol):
    key, secret = _key(fleet)
    codedeploy = codedeploy_client(key.key_id, secret, f"{live_stack.url}/codedeploy", protocol=protocol)
    hosts = [f"cd-{protocol}-{n}-{fleet.tag}" for n in (1, 2)]
    fleet.start(hosts)
    record, ctl = tmp_path / "record.log", tmp_path / "ctl"
    ctl.mkdir()
    s3 = aws_client("s3", aws_env)
    s3.create_bucket(Bucket="releases")
    bundle = recording_bundle(tmp_path / "v1.tgz", label="v1", record=record, ctl=ctl)
    put = s3.put_object(Bucket="releases", Key="shop/v1.tgz", Body=bundle.read_bytes())
    make_aws(Project.objects.get(slug=fleet.project), aws_env)
    revision = {
        "revisionType": "S3",
        "s3Location": {"bucket": "releases", "key": "shop/v1.tgz", "bundleType": "tgz", "eTag": put["ETag"]},
    }

    codedeploy.create_application(applicationName="shop", computePlatform="Server")
    codedeploy.create_deployment_config(
        deploymentConfigName="OneHealthy", minimumHealthyHosts={"type": "HOST_COUNT", "value": 1}
    )
    codedeploy.create_deployment_group(
        applicationName="shop",
        deploymentGroupName="web",
        deploymentConfigName="OneHealthy",
        serviceRoleArn=ROLE,
        onPremisesInstanceTagFilters=[{"Key": "fleet", "Value": fleet.tag, "Type": "KEY_AND_VALUE"}],
    )
    codedeploy.register_application_revision(applicationName="shop", revision=revision, description="v1")
    first = codedeploy.create_deployment(
        applicationName="shop", deploymentGroupName="web", revision=revision, description="first"
    )["deploymentId"]

    codedeploy.get_waiter("deployment_successful").wait(
        deploymentId=first, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )

    ran = {(r.host, r.event) for r in read_records(record) if r.deployment == first and r.phase == "end"}
    assert {(host, "ApplicationStart") for host in hosts} <= ran
    pages = codedeploy.get_paginator("list_deployment_instances").paginate(deploymentId=first)
    listed = [name for page in pages for name in page["instancesList"]]
    assert sorted(listed) == sorted(hosts)
    summaries = codedeploy.batch_get_deployment_instances(deploymentId=first, instanceIds=hosts)[
        "instancesSummary"
    ]
    for summary in summaries:
        events = {e["lifecycleEventName"]: e for e in summary["lifecycleEvents"]}
        assert summary["status"] == "Succeeded"
        assert events["ApplicationStart"]["status"] == "Succeeded"
        assert events["ApplicationStart"]["endTime"] >= events["ApplicationStart"]["startTime"]
    info = codedeploy.get_deployment(deploymentId=first)["deploymentInfo"]
    assert info["deploymentConfigName"] == "OneHealthy"
    assert info["revision"]["s3Location"]["key"] == "shop/v1.tgz"
    assert info["deploymentOverview"]["Succeeded"] == 2

    # A second deployment, held in its first hook on one host, is stopped.
    (ctl / f"{hosts[0]}.ApplicationStop.sleep").write_text("5")
    (ctl / f"{hosts[1]}.ApplicationStop.sleep").write_text("5")
    second = codedeploy.create_deployment(
        applicationName="shop", deploymentGroupName="web", revision=revision
    )["deploymentId"]
    deadline = time.monotonic() + 60
    while _status(codedeploy, second) != "InProgress" and time.monotonic() < deadline:
        time.sleep(0.2)
    answer = codedeploy.stop_deployment(deploymentId=second)
    assert answer["status"] in ("Pending", "Succeeded")
    deadline = time.monotonic() + 60
    while (status := _status(codedeploy, second)) not in ("Stopped", "Failed", "Succeeded"):
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status == "Stopped"
    with pytest.raises(codedeploy.exceptions.DeploymentAlreadyCompletedException):
        codedeploy.stop_deployment(deploymentId=second)

    # FLEETDECK_CODEDEPLOY_PAGE_SIZE is 1 on the live stack: one deployment per page.
    pages = list(codedeploy.get_paginator("list_deployments").paginate(applicationName="shop"))
    assert [d for page in pages for d in page["deployments"]] == [second, first]
    assert len(pages) == 2
    with pytest.raises(codedeploy.exceptions.ApplicationDoesNotExistException):
        codedeploy.get_application(applicationName="no-such-app")
