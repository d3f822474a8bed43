"""`manage.py import_codedeploy`: an AWS account's CodeDeploy set-up, read from moto (plus a small fake of
what moto lacks, codedeploy_fake) through the project's AWS connection, lands in the project; twice."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from aws_fixtures import aws_client
from codedeploy_fake import CodeDeployFake
from django.core.management import CommandError, call_command
from django.test import Client
from factories import make_aws, make_instance, make_member, make_project

from deployments.codedeploy.ops_groups import info as group_info
from deployments.models import Application, Deployment, DeploymentConfig, DeploymentGroup, Revision
from deployments.rollout import rollback
from integrations.models import CodeDeployImport
from projects.models import Role

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def account(aws_env):
    """An account with a Server application (two groups), a Lambda one, a custom config, revisions."""
    fake = CodeDeployFake(aws_env)
    s3 = aws_client("s3", aws_env)
    s3.create_bucket(Bucket="releases")
    etags = {
        key: s3.put_object(Bucket="releases", Key=key, Body=key.encode())["ETag"].strip('"')
        for key in ("shop/v1.zip", "shop/v2.zip")
    }
    cd = aws_client("codedeploy", aws_env)
    cd.create_application(applicationName="shop", computePlatform="Server")
    cd.create_application(applicationName="thumbnails", computePlatform="Lambda")
    cd.create_deployment_group(
        applicationName="shop",
        deploymentGroupName="web",
        serviceRoleArn="arn:aws:iam::123456789012:role/CodeDeploy",
        deploymentConfigName="HalfTheFleet",
        ec2TagFilters=[{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}],
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
        alarmConfiguration={
            "enabled": True,
            "alarms": [{"name": "web-5xx"}],
            "ignorePollAlarmFailure": False,
        },
        triggerConfigurations=[
            {
                "triggerName": "ops",
                "triggerTargetArn": "arn:aws:sns:us-east-1:123456789012:ops",
                "triggerEvents": ["DeploymentFailure"],
            }
        ],
        loadBalancerInfo={"targetGroupInfoList": [{"name": "web-tg"}]},
        deploymentStyle={"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        outdatedInstancesStrategy="IGNORE",
        autoScalingGroups=["web-asg"],
    )
    cd.create_deployment_group(
        applicationName="shop",
        deploymentGroupName="workers",
        serviceRoleArn="arn:aws:iam::123456789012:role/CodeDeploy",
        onPremisesTagSet={
            "onPremisesTagSetList": [
                [{"Key": "role", "Value": "worker", "Type": "KEY_AND_VALUE"}],
                [{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}],
            ]
        },
    )
    web_id = cd.get_deployment_group(applicationName="shop", deploymentGroupName="web")[
        "deploymentGroupInfo"
    ]["deploymentGroupId"]
    fake.state.configs["HalfTheFleet"] = {
        "deploymentConfigId": str(uuid.uuid4()),
        "deploymentConfigName": "HalfTheFleet",
        "minimumHealthyHosts": {"type": "FLEET_PERCENT", "value": 50},
        "createTime": WHEN,
        "computePlatform": "Server",
    }
    location = {
        "revisionType": "S3",
        "s3Location": {
            "bucket": "releases",
            "key": "shop/v1.zip",
            "bundleType": "zip",
            "eTag": etags["shop/v1.zip"],
        },
    }
    fake.state.revisions["shop"] = [
        {
            "revisionType": "S3",
            "s3Location": {"bucket": "releases", "key": "shop/v2.zip", "bundleType": "zip"},
        },
        location,
        {"revisionType": "S3", "s3Location": {"bucket": "releases", "key": "gone.zip", "bundleType": "zip"}},
    ]
    fake.state.succeeded[("shop", "web")] = {
        "applicationName": "shop",
        "deploymentGroupName": "web",
        "deploymentConfigName": "HalfTheFleet",
        "deploymentId": "d-ABCDE1234",
        "revision": location,
        "status": "Succeeded",
        "createTime": WHEN,
        "completeTime": WHEN + dt.timedelta(minutes=4),
        "fileExistsBehavior": "OVERWRITE",
    }
    fake.state.overlay[("shop", "web")] = {
        "autoScalingGroups": [
            {"name": "web-asg", "hook": "CodeDeploy-managed-automatic-launch-deployment-hook"}
        ],
        "alarmConfiguration": {
            "enabled": True,
            "alarms": [{"name": "web-5xx"}],
            "ignorePollAlarmFailure": False,
        },
    }
    fake.web_id = web_id
    yield fake
    fake.stop()


@pytest.fixture
def project(account):
    project = make_project("shop")
    make_member(project, "olivia", Role.OWNER)
    make_aws(project, account.url)
    return project


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_codedeploy", *args, stdout=out)
    return out.getvalue()


def test_it_imports_the_account_and_a_second_run_updates_rather_than_duplicates(project, account):
    make_instance("web-1", project=project, role="web")
    make_instance("worker-1", project=project, role="worker", env="prod")
    first = run("--project", "shop")

    assert {"ListDeploymentConfigs", "GetDeploymentConfig", "BatchGetDeploymentGroups"} <= set(
        account.state.calls
    )
    config = DeploymentConfig.objects.get(project=project, name="HalfTheFleet")
    assert (config.minimum_healthy_type, config.minimum_healthy_value) == ("FLEET_PERCENT", 50)
    assert list(Application.objects.filter(project=project).values_list("name", flat=True)) == ["shop"]
    web = DeploymentGroup.objects.get(application__project=project, name="web")
    assert str(web.group_id) == account.web_id
    assert web.deployment_config == config
    assert web.tag_filters == [{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}]
    assert web.auto_rollback_events == ["DEPLOYMENT_FAILURE"]
    assert web.alarm_configuration["alarms"] == ["web-5xx"]
    assert web.load_balancer_info == {"router": "elbv2", "target_groups": ["web-tg"]}
    assert (web.deployment_option, web.outdated_instances_strategy) == ("WITH_TRAFFIC_CONTROL", "IGNORE")
    shown = group_info(web)
    assert shown["serviceRoleArn"] == "arn:aws:iam::123456789012:role/CodeDeploy"
    assert shown["triggerConfigurations"][0]["triggerName"] == "ops"
    workers = DeploymentGroup.objects.get(application__project=project, name="workers")
    assert workers.tag_set == [
        [{"key": "role", "value": "worker", "type": "KEY_AND_VALUE"}],
        [{"key": "env", "value": "prod", "type": "KEY_AND_VALUE"}],
    ]

    # The last successful revision is the group's previous revision for the engine.
    previous = rollback.last_successful(web)
    assert previous.pk == "d-ABCDE1234" and previous.ended_at == WHEN + dt.timedelta(minutes=4)
    assert previous.revision.location["key"] == "shop/v1.zip"
    assert rollback.last_successful(workers) is None
    keys = sorted(
        Revision.objects.filter(application__project=project).values_list("location__key", flat=True)
    )
    assert keys == ["shop/v1.zip", "shop/v2.zip"]

    assert "shop/web: 1 registered instance match its tags now" in first
    assert "shop/workers: 1 registered instance match its tags now" in first
    assert f"adopt-codedeploy --group {account.web_id}={account.web_id}" in first
    assert "application thumbnails: its compute platform is Lambda" in first
    assert "autoScalingGroups web-asg" in first
    assert "triggerConfigurations are kept and shown but not delivered" in first
    assert "gone.zip" in first

    config.minimum_healthy_value = 30
    config.save()
    second = run("--project", "shop")
    assert DeploymentConfig.objects.filter(project=project).count() == 1
    assert DeploymentConfig.objects.get(pk=config.pk).minimum_healthy_value == 50
    assert Application.objects.filter(project=project).count() == 1
    assert DeploymentGroup.objects.filter(application__project=project).count() == 2
    assert Deployment.objects.filter(deployment_group__application__project=project).count() == 1
    assert Revision.objects.filter(application__project=project).count() == 2
    assert "deployment group shop/web" in second.split("Updated:")[1]
    assert "Created: none" in second
    assert "was imported before" in second


def test_a_group_with_deployments_of_its_own_keeps_its_history(project, account):
    run("--project", "shop")
    web = DeploymentGroup.objects.get(application__project=project, name="web")
    imported = Deployment.objects.get(deployment_group=web)
    Deployment.objects.filter(pk=imported.pk).update(description="deployed by Fleetdeck")
    account.state.succeeded[("shop", "web")]["deploymentId"] = "d-NEWER0000"
    report = run("--project", "shop")
    assert "has Fleetdeck deployments of its own" in report
    assert list(Deployment.objects.filter(deployment_group=web).values_list("pk", flat=True)) == [imported.pk]


def test_only_an_owner_may_import(project, account):
    make_member(project, "carl", Role.CONTRIBUTOR)
    with pytest.raises(CommandError, match="carl is not an owner of shop"):
        run("--project", "shop", "--user", "carl")
    assert not Application.objects.filter(project=project).exists()


def test_a_project_without_aws_credentials_gets_a_clear_error(settings, account):
    settings.AWS_DEFAULT_CREDENTIALS = ["none"]
    project = make_project("bare")
    make_member(project, "olivia", Role.OWNER)
    with pytest.raises(CommandError, match="has no AWS credentials of its own"):
        run("--project", "bare")


def test_an_unknown_project_is_named(account):
    with pytest.raises(CommandError, match="No project with the slug nope"):
        run("--project", "nope")


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_owner_imports_from_the_integrations_page_and_reads_the_report(
    project, account, django_capture_on_commit_callbacks
):
    owner = login(project.memberships.get(role=Role.OWNER).user)
    page = owner.get("/integrations/p/shop/")
    assert b"Import from AWS CodeDeploy" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post("/integrations/p/shop/codedeploy-import/", {"region": "us-east-1"})
    run_ = CodeDeployImport.objects.get(project=project)
    assert response.status_code == 302 and response["Location"].endswith(f"/codedeploy-import/{run_.pk}/")
    assert run_.status == "done" and run_.region == "us-east-1"
    report = owner.get(response["Location"])
    assert b"shop/web: 0 registered instances match its tags now" in report.content
    assert DeploymentGroup.objects.filter(application__project=project).count() == 2


@pytest.mark.parametrize("role", [Role.CONTRIBUTOR, Role.VIEWER])
def test_members_below_owner_cannot_start_an_import(project, account, role):
    member = login(make_member(project, f"m-{role}", role))
    assert member.post("/integrations/p/shop/codedeploy-import/").status_code == 403
    assert not CodeDeployImport.objects.exists()


def test_another_projects_import_is_not_found(project, account):
    row = CodeDeployImport.objects.create(project=project, report="secret report")
    other = make_project("other")
    stranger = login(make_member(other, "sam", Role.OWNER))
    assert stranger.get(f"/integrations/p/other/codedeploy-import/{row.pk}/").status_code == 404
    assert stranger.post("/integrations/p/shop/codedeploy-import/").status_code in (403, 404)


def test_a_project_without_an_aws_connection_is_told_to_connect_first(account):
    bare = make_project("bare")
    owner = login(make_member(bare, "olivia", Role.OWNER))
    response = owner.post("/integrations/p/bare/codedeploy-import/", follow=True)
    assert b"Connect AWS first" in response.content
    assert not CodeDeployImport.objects.exists()


def test_ec2_tags_are_copied_onto_agents_whose_instance_id_the_account_confirms(project, account, aws_env):
    ec2 = aws_client("ec2", aws_env)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    ec2_id = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"}]}],
    )["Instances"][0]["InstanceId"]
    verified = make_instance("web-1", project=project, ec2_instance_id=ec2_id, env="prod")
    stranger = make_instance("web-2", project=project, ec2_instance_id="i-0123456789abcdef0", env="prod")

    report = run("--project", "shop", "--copy-ec2-tags")

    verified.refresh_from_db()
    stranger.refresh_from_db()
    assert verified.tags == {"env": "prod", "role": "web"}
    assert stranger.tags == {"env": "prod"}
    assert (
        f"EC2 tags of {ec2_id} (verified through the project's AWS connection) copied onto instance web-1"
        in report
    )
    assert "i-0123456789abcdef0 is not in the project's AWS account" in report
    assert "shop/web: 1 registered instance match its tags now" in report


def test_without_the_flag_no_tags_are_copied(project, account, aws_env):
    ec2 = aws_client("ec2", aws_env)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    ec2_id = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"}]}],
    )["Instances"][0]["InstanceId"]
    host = make_instance("web-1", project=project, ec2_instance_id=ec2_id, env="prod")
    run("--project", "shop")
    host.refresh_from_db()
    assert host.tags == {"env": "prod"}
