"""Deployment groups and configs through boto3: what a Create says, a Get answers."""

from __future__ import annotations

import pytest

from deployments.models import Application, CodeDeployGroupSettings, DeploymentConfig, DeploymentGroup

ROLE = "arn:aws:iam::123456789012:role/CodeDeployServiceRole"
TOPIC = "arn:aws:sns:us-east-1:123456789012:deploys"
FILTERS = [{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}]


@pytest.fixture
def app(codedeploy):
    codedeploy.create_application(applicationName="shop")
    return "shop"


def test_a_group_with_every_setting_is_stored_and_shown_back(codedeploy, app):
    codedeploy.create_deployment_config(
        deploymentConfigName="Quarter", minimumHealthyHosts={"type": "FLEET_PERCENT", "value": 75}
    )
    created = codedeploy.create_deployment_group(
        applicationName=app,
        deploymentGroupName="prod",
        deploymentConfigName="Quarter",
        ec2TagFilters=FILTERS,
        serviceRoleArn=ROLE,
        triggerConfigurations=[
            {"triggerName": "all", "triggerTargetArn": TOPIC, "triggerEvents": ["DeploymentFailure"]}
        ],
        alarmConfiguration={"enabled": True, "ignorePollAlarmFailure": True, "alarms": [{"name": "5xx"}]},
        autoRollbackConfiguration={
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        },
        outdatedInstancesStrategy="IGNORE",
        deploymentStyle={"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"},
    )

    group = DeploymentGroup.objects.get(name="prod")
    assert created["deploymentGroupId"] == str(group.group_id)
    assert group.deployment_config.name == "Quarter"
    assert group.tag_filters == [{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}]
    assert group.auto_rollback_events == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
    assert group.alarm_configuration["alarms"] == ["5xx"]
    assert group.outdated_instances_strategy == "IGNORE"
    assert CodeDeployGroupSettings.objects.get(group=group).service_role_arn == ROLE

    info = codedeploy.get_deployment_group(applicationName=app, deploymentGroupName="prod")[
        "deploymentGroupInfo"
    ]
    assert info["deploymentConfigName"] == "Quarter"
    assert info["ec2TagFilters"] == FILTERS
    assert info["serviceRoleArn"] == ROLE
    assert info["triggerConfigurations"][0]["triggerTargetArn"] == TOPIC
    assert info["alarmConfiguration"] == {
        "enabled": True,
        "ignorePollAlarmFailure": True,
        "alarms": [{"name": "5xx"}],
    }
    assert info["autoRollbackConfiguration"]["events"] == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
    assert info["outdatedInstancesStrategy"] == "IGNORE"
    assert info["computePlatform"] == "Server"
    assert "lastAttemptedDeployment" not in info


def test_tag_sets_and_target_groups_map_to_the_groups_settings(codedeploy, app):
    codedeploy.create_deployment_group(
        applicationName=app,
        deploymentGroupName="bg",
        serviceRoleArn=ROLE,
        onPremisesTagSet={"onPremisesTagSetList": [FILTERS, [{"Key": "zone", "Type": "KEY_ONLY"}]]},
        loadBalancerInfo={"targetGroupInfoList": [{"name": "web-tg"}]},
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 5,
            },
            "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 30},
            "greenFleetProvisioningOption": {"action": "DISCOVER_EXISTING"},
        },
    )
    group = DeploymentGroup.objects.get(name="bg")
    assert len(group.tag_set) == 2 and group.tag_set[1][0]["type"] == "KEY_ONLY"
    assert group.load_balancer_info == {"router": "elbv2", "target_groups": ["web-tg"]}
    assert group.blue_green_configuration["originals"] == {"action": "TERMINATE", "wait_seconds": 300}
    assert group.blue_green_configuration["reroute"] == {"action": "STOP_DEPLOYMENT", "wait_seconds": 1800}
    info = codedeploy.get_deployment_group(applicationName=app, deploymentGroupName="bg")[
        "deploymentGroupInfo"
    ]
    assert info["loadBalancerInfo"] == {"targetGroupInfoList": [{"name": "web-tg"}]}
    assert info["deploymentStyle"]["deploymentType"] == "BLUE_GREEN"
    assert info["blueGreenDeploymentConfiguration"]["deploymentReadyOption"] == {
        "actionOnTimeout": "STOP_DEPLOYMENT",
        "waitTimeInMinutes": 30,
    }
    assert "onPremisesTagSet" in info


def test_update_renames_and_changes_settings_list_and_batch_get_find_it(codedeploy, app):
    codedeploy.create_deployment_group(
        applicationName=app, deploymentGroupName="a", serviceRoleArn=ROLE, ec2TagFilters=FILTERS
    )
    codedeploy.update_deployment_group(
        applicationName=app,
        currentDeploymentGroupName="a",
        newDeploymentGroupName="b",
        deploymentConfigName="CodeDeployDefault.AllAtOnce",
        onPremisesInstanceTagFilters=[{"Key": "tier", "Value": "api", "Type": "KEY_AND_VALUE"}],
    )
    assert codedeploy.list_deployment_groups(applicationName=app)["deploymentGroups"] == ["b"]
    answer = codedeploy.batch_get_deployment_groups(applicationName=app, deploymentGroupNames=["b", "zzz"])
    (info,) = answer["deploymentGroupsInfo"]
    assert info["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce"
    assert info["onPremisesInstanceTagFilters"] == [{"Key": "tier", "Value": "api", "Type": "KEY_AND_VALUE"}]
    assert "ec2TagFilters" not in info
    assert "zzz" in answer["errorMessage"]


def test_group_refusals_use_codedeploys_exceptions_and_change_nothing(codedeploy, app):
    codedeploy.create_deployment_group(
        applicationName=app, deploymentGroupName="a", serviceRoleArn=ROLE, ec2TagFilters=FILTERS
    )
    with pytest.raises(codedeploy.exceptions.DeploymentGroupAlreadyExistsException):
        codedeploy.create_deployment_group(
            applicationName=app, deploymentGroupName="a", serviceRoleArn=ROLE, ec2TagFilters=FILTERS
        )
    with pytest.raises(codedeploy.exceptions.DeploymentConfigDoesNotExistException):
        codedeploy.create_deployment_group(
            applicationName=app,
            deploymentGroupName="c",
            serviceRoleArn=ROLE,
            ec2TagFilters=FILTERS,
            deploymentConfigName="Nope",
        )
    with pytest.raises(codedeploy.exceptions.InvalidLoadBalancerInfoException):
        codedeploy.create_deployment_group(
            applicationName=app,
            deploymentGroupName="c",
            serviceRoleArn=ROLE,
            ec2TagFilters=FILTERS,
            loadBalancerInfo={"elbInfoList": [{"name": "classic"}]},
        )
    with pytest.raises(codedeploy.exceptions.InvalidTriggerConfigException):
        codedeploy.create_deployment_group(
            applicationName=app,
            deploymentGroupName="c",
            serviceRoleArn=ROLE,
            ec2TagFilters=FILTERS,
            triggerConfigurations=[{"triggerName": "x", "triggerTargetArn": "not-an-arn"}],
        )
    with pytest.raises(codedeploy.exceptions.DeploymentGroupDoesNotExistException):
        codedeploy.get_deployment_group(applicationName=app, deploymentGroupName="c")
    assert list(DeploymentGroup.objects.values_list("name", flat=True)) == ["a"]
    codedeploy.delete_deployment_group(applicationName=app, deploymentGroupName="a")
    assert not DeploymentGroup.objects.exists()


def test_configs_are_the_projects_own_beside_the_built_ins(codedeploy, project):
    created = codedeploy.create_deployment_config(
        deploymentConfigName="Two", minimumHealthyHosts={"type": "HOST_COUNT", "value": 2}
    )
    config = DeploymentConfig.objects.get(name="Two")
    assert config.project == project and created["deploymentConfigId"] == str(config.pk)
    info = codedeploy.get_deployment_config(deploymentConfigName="Two")["deploymentConfigInfo"]
    assert info["minimumHealthyHosts"] == {"type": "HOST_COUNT", "value": 2}
    names = codedeploy.list_deployment_configs()["deploymentConfigsList"]
    assert "CodeDeployDefault.OneAtATime" in names and "Two" in names
    with pytest.raises(codedeploy.exceptions.DeploymentConfigAlreadyExistsException):
        codedeploy.create_deployment_config(
            deploymentConfigName="Two", minimumHealthyHosts={"type": "HOST_COUNT", "value": 1}
        )
    with pytest.raises(codedeploy.exceptions.InvalidMinimumHealthyHostValueException):
        codedeploy.create_deployment_config(
            deploymentConfigName="Bad", minimumHealthyHosts={"type": "FLEET_PERCENT", "value": 100}
        )
    with pytest.raises(codedeploy.exceptions.InvalidOperationException):
        codedeploy.delete_deployment_config(deploymentConfigName="CodeDeployDefault.AllAtOnce")
    codedeploy.delete_deployment_config(deploymentConfigName="Two")
    assert not DeploymentConfig.objects.filter(name__in=["Two", "Bad"]).exists()
    with pytest.raises(codedeploy.exceptions.DeploymentConfigDoesNotExistException):
        codedeploy.get_deployment_config(deploymentConfigName="Two")


def test_an_application_is_renamed_and_deleted(codedeploy, app, project):
    codedeploy.update_application(applicationName=app, newApplicationName="store")
    assert (
        codedeploy.batch_get_applications(applicationNames=["store"])["applicationsInfo"][0][
            "applicationName"
        ]
        == "store"
    )
    with pytest.raises(codedeploy.exceptions.ApplicationDoesNotExistException):
        codedeploy.batch_get_applications(applicationNames=["store", "shop"])
    codedeploy.delete_application(applicationName="store")
    assert not project.applications.exists()


def test_a_group_whose_filters_omit_the_type_reads_as_key_and_value(codedeploy, app, project):
    DeploymentGroup.objects.create(
        application=Application.objects.get(project=project, name=app),
        name="old",
        deployment_config=DeploymentConfig.objects.get(name="CodeDeployDefault.OneAtATime"),
        tag_filters=[{"key": "role", "value": "web"}],
    )
    info = codedeploy.get_deployment_group(applicationName=app, deploymentGroupName="old")[
        "deploymentGroupInfo"
    ]
    assert info["onPremisesInstanceTagFilters"] == [{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}]
