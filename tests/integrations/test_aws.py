"""AWS against moto's server: S3 revisions (ETag check, presigned download) and EC2 / ASG discovery."""

from __future__ import annotations

import pytest
import requests
from aws_fixtures import aws_client
from factories import AWS_SECRET, make_app, make_aws, make_group, make_instance, make_project

from integrations.aws.fleet import missing_agents
from integrations.aws.revisions import S3RevisionError, register_s3_revision, revision_fetch
from integrations.models import Ec2Discovery
from integrations.tasks import discover_ec2

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(aws_env):
    project = make_project("shop")
    make_aws(project, aws_env)
    return project


@pytest.fixture
def bundle(aws_env):
    s3 = aws_client("s3", aws_env)
    s3.create_bucket(Bucket="releases")
    s3.put_bucket_versioning(Bucket="releases", VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket="releases", Key="shop/v1.tgz", Body=b"bundle bytes v1")
    return put["ETag"].strip('"'), put["VersionId"]


def test_an_s3_revision_is_registered_with_its_etag_and_version(project, bundle):
    etag, version = bundle
    revision = register_s3_revision(
        make_app(project=project), "s3://releases/shop/v1.tgz", bundle_type="tgz", etag=etag
    )
    assert revision.source == "s3"
    assert revision.location == {"bucket": "releases", "key": "shop/v1.tgz", "version": version, "etag": etag}
    assert revision.hook_environment() == {
        "BUNDLE_BUCKET": "releases",
        "BUNDLE_KEY": "shop/v1.tgz",
        "BUNDLE_VERSION": version,
        "BUNDLE_ETAG": etag,
    }


def test_a_wrong_etag_is_refused(project, bundle):
    with pytest.raises(S3RevisionError, match="has ETag"):
        register_s3_revision(
            make_app(project=project), "s3://releases/shop/v1.tgz", bundle_type="tgz", etag="0" * 32
        )


def test_a_missing_object_is_refused_with_its_uri(project, bundle):
    with pytest.raises(S3RevisionError, match=r"s3://releases/nope\.tgz cannot be read"):
        register_s3_revision(make_app(project=project), "s3://releases/nope.tgz", bundle_type="tgz")


def test_a_malformed_uri_is_refused(project):
    with pytest.raises(S3RevisionError, match="not an s3://bucket/key URI"):
        register_s3_revision(make_app(project=project), "https://releases/x.tgz", bundle_type="tgz")


def test_the_agent_downloads_through_a_presigned_url(project, bundle):
    revision = register_s3_revision(make_app(project=project), "s3://releases/shop/v1.tgz", bundle_type="tgz")
    fetch = revision_fetch(revision)
    assert set(fetch) == {"url"} and "X-Amz-Signature=" in fetch["url"]
    assert AWS_SECRET not in fetch["url"]
    response = requests.get(fetch["url"], timeout=5)
    assert response.status_code == 200 and response.content == b"bundle bytes v1"


def test_ec2_discovery_reports_matching_instances_without_an_agent(project, aws_env):
    ec2 = aws_client("ec2", aws_env)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tagged = ec2.run_instances(
        ImageId=image,
        MinCount=3,
        MaxCount=3,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "app", "Value": "shop"}]}],
    )["Instances"]
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)  # untagged: never matched
    asg = aws_client("autoscaling", aws_env)
    asg.create_launch_configuration(LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro")
    asg.create_auto_scaling_group(
        AutoScalingGroupName="shop-asg",
        LaunchConfigurationName="lc",
        MinSize=1,
        MaxSize=1,
        AvailabilityZones=["us-east-1a"],
    )
    asg_ids = [
        i["InstanceId"] for i in asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]
    ]
    tagged_ids = sorted(i["InstanceId"] for i in tagged)
    make_instance("web-1", project=project, ec2_instance_id=tagged_ids[0])
    group = make_group(make_app(project=project))
    Ec2Discovery.objects.create(
        group=group, tag_filters=[{"key": "app", "value": "shop"}], autoscaling_groups=["shop-asg"]
    )

    discover_ec2.delay(group.pk)

    discovery = Ec2Discovery.objects.get(group=group)
    assert discovery.error == ""
    assert set(discovery.matched) == {*tagged_ids, *asg_ids}
    assert missing_agents(group) == sorted({*tagged_ids[1:], *asg_ids})


def test_discovery_records_an_error_instead_of_raising(project, aws_env, settings):
    from integrations.models import AwsConnection

    AwsConnection.objects.update(endpoint_url="http://127.0.0.1:9")
    group = make_group(make_app(project=project))
    Ec2Discovery.objects.create(group=group, tag_filters=[{"key": "app", "value": "shop"}])
    discover_ec2.delay(group.pk)
    assert "Could not connect" in Ec2Discovery.objects.get(group=group).error


def test_aws_test_connection_reports_each_service(project, client, settings):
    settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT = 20  # moto's EC2 is slow on a loaded machine
    from django.contrib.auth import get_user_model

    from projects.models import Membership

    user = get_user_model().objects.create_user("olivia", password="pw")
    Membership.objects.create(project=project, user=user, role="owner")
    client.force_login(user)
    html = client.post("/integrations/p/shop/aws/test/").content.decode()
    for name in ("Credentials", "S3", "EC2", "Auto Scaling"):
        assert f"<td>{name}</td><td>✓ worked</td>" in html
    assert AWS_SECRET not in html
