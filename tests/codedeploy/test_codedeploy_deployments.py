"""Deployments, their instances and targets through boto3, carried out by the engine as agents would."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deployments.models import Application, Deployment, Instance, Revision

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))
from factories import finish

# The engine enqueues each next step after commit (Celery is eager here): the tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

ROLE = "arn:aws:iam::123456789012:role/CodeDeploy"
APPSPEC = "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: start.sh\n"


@pytest.fixture
def uploaded(codedeploy, project, settings) -> Revision:
    settings.CODEDEPLOY_PAGE_SIZE = 2
    codedeploy.create_application(applicationName="shop")
    codedeploy.create_deployment_group(
        applicationName="shop",
        deploymentGroupName="web",
        serviceRoleArn=ROLE,
        deploymentConfigName="CodeDeployDefault.AllAtOnce",
        onPremisesInstanceTagFilters=[{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}],
    )
    for name in ("web-1", "web-2", "web-3"):
        instance = Instance(name=name, project=project, tags={"role": "web"})
        instance.rotate_credential()
        instance.save()
    return Revision.objects.create(
        application=Application.objects.get(name="shop"), bundle_type="tgz", sha256="b" * 64, appspec=APPSPEC
    )


def _location(revision: Revision) -> dict:
    return {
        "revisionType": "S3",
        "s3Location": {"bucket": "fleetdeck", "key": f"revisions/{revision.pk}.tgz", "bundleType": "tgz"},
    }


def test_an_uploaded_revision_is_listed_as_s3_and_deploys_with_lifecycle_events(codedeploy, uploaded):
    (listed,) = codedeploy.list_application_revisions(applicationName="shop")["revisions"]
    assert listed == {
        **_location(uploaded),
        "s3Location": {**_location(uploaded)["s3Location"], "eTag": "b" * 64},
    }

    deployment_id = codedeploy.create_deployment(
        applicationName="shop",
        deploymentGroupName="web",
        revision=listed,
        description="release 1",
        fileExistsBehavior="OVERWRITE",
        ignoreApplicationStopFailures=True,
    )["deploymentId"]
    finish(deployment_id)

    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded"
    assert info["description"] == "release 1"
    assert info["fileExistsBehavior"] == "OVERWRITE" and info["ignoreApplicationStopFailures"] is True
    assert info["deploymentOverview"]["Succeeded"] == 3
    assert info["revision"]["s3Location"]["key"] == f"revisions/{uploaded.pk}.tgz"
    assert info["completeTime"] >= info["createTime"]
    codedeploy.get_waiter("deployment_successful").wait(deploymentId=deployment_id, WaiterConfig={"Delay": 0})

    first = codedeploy.list_deployment_instances(deploymentId=deployment_id)
    second = codedeploy.list_deployment_instances(deploymentId=deployment_id, nextToken=first["nextToken"])
    assert first["instancesList"] + second["instancesList"] == ["web-1", "web-2", "web-3"]
    assert "nextToken" not in second
    summary = codedeploy.get_deployment_instance(deploymentId=deployment_id, instanceId="web-2")[
        "instanceSummary"
    ]
    assert summary["status"] == "Succeeded"
    names = [e["lifecycleEventName"] for e in summary["lifecycleEvents"]]
    assert "ApplicationStart" in names and all(e["status"] == "Succeeded" for e in summary["lifecycleEvents"])
    targets = codedeploy.batch_get_deployment_targets(
        deploymentId=deployment_id, targetIds=["web-1", "web-3"]
    )
    assert [t["instanceTarget"]["targetId"] for t in targets["deploymentTargets"]] == ["web-1", "web-3"]
    assert codedeploy.list_deployment_targets(
        deploymentId=deployment_id, targetFilters={"TargetStatus": ["Succeeded"]}
    )["targetIds"] == ["web-1", "web-2"]
    group = codedeploy.get_deployment_group(applicationName="shop", deploymentGroupName="web")[
        "deploymentGroupInfo"
    ]
    assert group["lastSuccessfulDeployment"]["deploymentId"] == deployment_id
    assert group["targetRevision"]["s3Location"]["key"] == f"revisions/{uploaded.pk}.tgz"
    revision = codedeploy.get_application_revision(applicationName="shop", revision=listed)["revisionInfo"]
    assert revision["deploymentGroups"] == ["web"]


def test_a_failed_event_carries_its_diagnostics(codedeploy, uploaded):
    deployment_id = codedeploy.create_deployment(
        applicationName="shop", deploymentGroupName="web", revision=_location(uploaded)
    )["deploymentId"]
    finish(deployment_id, "Failed", message="exit 1")

    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Failed" and info["errorInformation"]["code"]
    with pytest.raises(Exception, match="Waiter DeploymentSuccessful failed"):
        codedeploy.get_waiter("deployment_successful").wait(
            deploymentId=deployment_id, WaiterConfig={"Delay": 0}
        )
    failed = codedeploy.list_deployment_instances(deploymentId=deployment_id, instanceStatusFilter=["Failed"])
    summary = codedeploy.get_deployment_instance(
        deploymentId=deployment_id, instanceId=failed["instancesList"][0]
    )
    diagnosed = [e for e in summary["instanceSummary"]["lifecycleEvents"] if "diagnostics" in e]
    assert diagnosed[0]["diagnostics"]["errorCode"] == "ScriptFailed"
    assert diagnosed[0]["diagnostics"]["message"] == "exit 1"


def test_a_deployment_is_stopped_listed_with_paging_and_filtered(codedeploy, uploaded):
    ids = [
        codedeploy.create_deployment(
            applicationName="shop", deploymentGroupName="web", revision=_location(uploaded)
        )["deploymentId"]
        for _ in range(3)
    ]
    stopped = codedeploy.stop_deployment(deploymentId=ids[0], autoRollbackEnabled=False)
    assert stopped["status"] in ("Pending", "Succeeded")
    finish(ids[0])
    assert Deployment.objects.get(pk=ids[0]).status == "Stopped"
    with pytest.raises(codedeploy.exceptions.DeploymentAlreadyCompletedException):
        codedeploy.stop_deployment(deploymentId=ids[0])

    pages = list(
        codedeploy.get_paginator("list_deployments").paginate(
            applicationName="shop", deploymentGroupName="web"
        )
    )
    listed = [d for page in pages for d in page["deployments"]]
    assert len(pages) == 2 and listed == list(reversed(ids))
    assert codedeploy.list_deployments(includeOnlyStatuses=["Stopped"])["deployments"] == [ids[0]]
    batch = codedeploy.batch_get_deployments(deploymentIds=[ids[1], "d-AAAAAAAAA"])["deploymentsInfo"]
    assert [d["deploymentId"] for d in batch] == [ids[1]]
    with pytest.raises(codedeploy.exceptions.InvalidNextTokenException):
        codedeploy.list_deployments(nextToken="garbage!")
    with pytest.raises(codedeploy.exceptions.DeploymentIsNotInReadyStateException):
        codedeploy.continue_deployment(deploymentId=ids[1], deploymentWaitType="READY_WAIT")


def test_create_deployment_refusals_create_nothing(codedeploy, uploaded):
    with pytest.raises(codedeploy.exceptions.DeploymentGroupDoesNotExistException):
        codedeploy.create_deployment(
            applicationName="shop", deploymentGroupName="nope", revision=_location(uploaded)
        )
    with pytest.raises(codedeploy.exceptions.RevisionDoesNotExistException):
        codedeploy.create_deployment(
            applicationName="shop",
            deploymentGroupName="web",
            revision={
                "revisionType": "S3",
                "s3Location": {"bucket": "fleetdeck", "key": "revisions/999999.tgz"},
            },
        )
    with pytest.raises(codedeploy.exceptions.InvalidRevisionException):
        codedeploy.create_deployment(
            applicationName="shop",
            deploymentGroupName="web",
            revision={"revisionType": "String", "string": {"content": "x"}},
        )
    with pytest.raises(codedeploy.exceptions.DeploymentConfigDoesNotExistException):
        codedeploy.create_deployment(
            applicationName="shop",
            deploymentGroupName="web",
            revision=_location(uploaded),
            deploymentConfigName="Nope",
        )
    with pytest.raises(codedeploy.exceptions.InvalidDeploymentIdException):
        codedeploy.get_deployment(deploymentId="not-an-id")
    with pytest.raises(codedeploy.exceptions.DeploymentDoesNotExistException):
        codedeploy.get_deployment(deploymentId="d-AAAAAAAAA")
    assert not Deployment.objects.exists()


def test_the_rollback_override_and_outdated_only_reach_the_deployment(codedeploy, uploaded):
    first = codedeploy.create_deployment(
        applicationName="shop", deploymentGroupName="web", revision=_location(uploaded)
    )
    finish(first["deploymentId"])
    newcomer = Instance(name="web-4", project=uploaded.application.project, tags={"role": "web"})
    newcomer.rotate_credential()
    newcomer.save()

    second = codedeploy.create_deployment(
        applicationName="shop",
        deploymentGroupName="web",
        revision=_location(uploaded),
        updateOutdatedInstancesOnly=True,
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    )["deploymentId"]

    info = codedeploy.get_deployment(deploymentId=second)["deploymentInfo"]
    assert info["updateOutdatedInstancesOnly"] is True
    assert info["autoRollbackConfiguration"] == {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}
    assert codedeploy.list_deployment_instances(deploymentId=second)["instancesList"] == ["web-4"]


def test_unsupported_operations_name_themselves_and_the_docs(codedeploy):
    with pytest.raises(codedeploy.exceptions.OperationNotSupportedException) as caught:
        codedeploy.list_git_hub_account_token_names()
    message = caught.value.response["Error"]["Message"]
    assert "ListGitHubAccountTokenNames" in message and "docs/codedeploy-api.md" in message
