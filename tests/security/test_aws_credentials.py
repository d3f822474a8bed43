"""Issue 14, item 4: the server's own AWS credentials act only for the projects an operator names.

A project brings access keys, or an IAM role that the server assumes with the project's external ID;
the server's own chain (here: moto's fake credentials in the environment) acts for a project only where
FLEETDECK_AWS_DEFAULT_CREDENTIALS allows it. An EC2 instance id an agent reports is checked with
DescribeInstances on the project's connection before it goes near a load balancer.
"""

from __future__ import annotations

import pytest
from aws_fixtures import aws_client, target_group_behind_a_load_balancer
from django.test import Client
from factories import (
    finish,
    make_app,
    make_aws,
    make_group,
    make_instance,
    make_member,
    make_project,
)

from deployments import engine
from deployments.models import DeploymentGroup, Revision
from projects.models import Project

pytestmark = pytest.mark.django_db(transaction=True)

ROLE_ARN = "arn:aws:iam::123456789012:role/fleetdeck-deployer"


@pytest.fixture
def aws(aws_env, settings):
    """moto, with the shipped default: the server's own chain serves no project."""
    settings.AWS_DEFAULT_CREDENTIALS = ["none"]
    settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT = 15.0  # moto's first EC2 call is slow
    return aws_env


def owner_of(project) -> Client:
    client = Client()
    client.force_login(make_member(project, f"owner-{project.slug}", "owner"))
    return client


def test_a_connection_with_a_blank_key_does_not_borrow_the_servers_credentials(aws):
    project = make_project("shop")
    make_aws(project, aws, access_key_id="", secret_access_key="")
    html = owner_of(project).post("/integrations/p/shop/aws/test/").content.decode()
    assert 'data-ok="true"' not in html
    assert "FLEETDECK_AWS_DEFAULT_CREDENTIALS" in html and "Integrations &gt; AWS" in html


def test_a_project_the_operator_names_uses_the_servers_credentials_and_no_other_does(aws, settings):
    settings.AWS_DEFAULT_CREDENTIALS = ["shop"]
    for slug in ("shop", "other"):
        make_aws(make_project(slug), aws, access_key_id="", secret_access_key="")
    shop = owner_of(Project.objects.get(slug="shop"))
    assert 'data-ok="false"' not in shop.post("/integrations/p/shop/aws/test/").content.decode()
    other = owner_of(Project.objects.get(slug="other"))
    html = other.post("/integrations/p/other/aws/test/").content.decode()
    assert 'data-ok="true"' not in html and "FLEETDECK_AWS_DEFAULT_CREDENTIALS" in html


def test_a_role_is_assumed_with_the_projects_own_external_id(aws):
    from moto.sts.models import sts_backends

    project = make_project("shop")
    connection = make_aws(project, aws, access_key_id="", secret_access_key="", role_arn=ROLE_ARN)
    other = make_aws(make_project("other"), aws, access_key_id="", secret_access_key="", role_arn=ROLE_ARN)
    assert connection.external_id and connection.external_id != other.external_id
    owner = owner_of(project)
    assert connection.external_id in owner.get("/integrations/p/shop/aws/").content.decode()
    html = owner.post("/integrations/p/shop/aws/test/").content.decode()
    assert 'data-ok="false"' not in html
    assumed = [role for backend in sts_backends.values() for role in backend["global"].assumed_roles]
    assert [(r.role_arn, r.external_id) for r in assumed] == [(ROLE_ARN, connection.external_id)]


def test_an_ec2_id_the_projects_account_does_not_have_fails_the_traffic_event(aws):
    ec2 = aws_client("ec2", aws)
    _vpc, arn, _dns = target_group_behind_a_load_balancer(aws, 31)
    (real,) = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"]
    ]
    project = make_project("shop")
    make_aws(project, aws)  # the project's own keys
    group = make_group(make_app(project=project), "web")
    DeploymentGroup.objects.filter(pk=group.pk).update(
        deployment_option="WITH_TRAFFIC_CONTROL",
        load_balancer_info={
            "router": "elbv2",
            "target_groups": [arn],
            "region": "us-east-1",
            "endpoint_url": aws,
            "poll_interval": 0.05,
            "drain_timeout": 2,
            "health_timeout": 2,
        },
    )
    claimed = "i-0aaaaaaaaaaaaaaaa"  # another account's host, as a hostile agent would report it
    make_instance("web-1", project=project, ec2_instance_id=claimed, role="web")
    revision = Revision.objects.create(application=group.application, bundle_type="tgz", sha256="b" * 64)
    deployment = finish(engine.create_deployment(group=group, revision=revision).id)
    assert (deployment.status, deployment.error_code) == ("Failed", "ELB_INVALID_INSTANCE")
    assert claimed in deployment.error_message and "does not have" in deployment.error_message
    health = aws_client("elbv2", aws).describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    assert claimed not in {d["Target"]["Id"] for d in health}
    assert real  # the account does have instances; just not that one
