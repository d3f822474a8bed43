"""Revisions in S3 (moto's server) and GitHub (the local fake), and on-premises instances, through boto3."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))
from fakes import sha
from revision_helpers import connected_github, releases_bucket

from deployments.models import Application, Instance, Revision


@pytest.fixture
def shop(codedeploy, project):
    codedeploy.create_application(applicationName="shop")
    return Application.objects.get(name="shop")


def s3_location(key: str, **extra) -> dict:
    return {"revisionType": "S3", "s3Location": {"bucket": "releases", "key": key, **extra}}


def test_an_s3_revision_is_registered_once_and_read_back(codedeploy, shop, project, aws_env):
    s3 = releases_bucket(project, aws_env)
    put = s3.put_object(Bucket="releases", Key="shop/v1.zip", Body=b"archive bytes")

    codedeploy.register_application_revision(
        applicationName="shop", revision=s3_location("shop/v1.zip"), description="v1"
    )
    codedeploy.register_application_revision(applicationName="shop", revision=s3_location("shop/v1.zip"))

    revision = Revision.objects.get(application=shop)
    assert revision.location["bucket"] == "releases" and revision.bundle_type == "zip"
    assert revision.location["etag"] == put["ETag"].strip('"')
    got = codedeploy.get_application_revision(applicationName="shop", revision=s3_location("shop/v1.zip"))
    assert got["revisionInfo"]["description"] == "v1"
    assert got["revision"]["s3Location"]["eTag"] == put["ETag"].strip('"')
    (listed,) = codedeploy.list_application_revisions(applicationName="shop", s3Bucket="releases")[
        "revisions"
    ]
    assert listed["s3Location"]["key"] == "shop/v1.zip"
    batch = codedeploy.batch_get_application_revisions(
        applicationName="shop", revisions=[s3_location("shop/v1.zip"), s3_location("shop/none.zip")]
    )
    assert len(batch["revisions"]) == 1 and "1 of the revisions" in batch["errorMessage"]


def test_a_missing_s3_object_is_an_invalid_revision_and_registers_nothing(codedeploy, shop, project, aws_env):
    releases_bucket(project, aws_env)
    with pytest.raises(codedeploy.exceptions.InvalidRevisionException) as caught:
        codedeploy.register_application_revision(
            applicationName="shop", revision=s3_location("shop/none.zip")
        )
    assert "cannot be read" in caught.value.response["Error"]["Message"]
    with pytest.raises(codedeploy.exceptions.RevisionDoesNotExistException):
        codedeploy.get_application_revision(applicationName="shop", revision=s3_location("shop/none.zip"))
    assert not Revision.objects.exists()


def test_a_github_commit_is_registered(codedeploy, shop, project):
    location = {"revisionType": "GitHub", "gitHubLocation": {"repository": "acme/shop", "commitId": sha(2)}}
    with connected_github(project) as github:
        codedeploy.register_application_revision(applicationName="shop", revision=location)
        assert github.requests_to("GET", f"/repos/acme/shop/commits/{sha(2)}")

    revision = Revision.objects.get(application=shop)
    assert revision.location == {"repository": "acme/shop", "commit": sha(2)}
    got = codedeploy.get_application_revision(applicationName="shop", revision=location)
    assert got["revision"]["gitHubLocation"] == {"repository": "acme/shop", "commitId": sha(2)}


@pytest.fixture
def hosts(project):
    made = []
    for name, tags in (("web-1", {"role": "web"}), ("db-1", {"role": "db"})):
        instance = Instance(name=name, project=project, tags=tags)
        instance.rotate_credential()
        instance.save()
        made.append(instance)
    return made


def test_on_premises_instances_are_the_projects_agents(codedeploy, hosts):
    assert codedeploy.list_on_premises_instances()["instanceNames"] == ["db-1", "web-1"]
    filtered = codedeploy.list_on_premises_instances(
        tagFilters=[{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}]
    )
    assert filtered["instanceNames"] == ["web-1"]
    info = codedeploy.get_on_premises_instance(instanceName="web-1")["instanceInfo"]
    assert info["tags"] == [{"Key": "role", "Value": "web"}] and "deregisterTime" not in info
    assert [
        i["instanceName"]
        for i in codedeploy.batch_get_on_premises_instances(instanceNames=["db-1", "x"])["instanceInfos"]
    ] == ["db-1"]
    with pytest.raises(codedeploy.exceptions.InstanceNotRegisteredException):
        codedeploy.get_on_premises_instance(instanceName="x")


def test_tags_are_added_to_and_removed_from_on_premises_instances(codedeploy, hosts):
    codedeploy.add_tags_to_on_premises_instances(
        tags=[{"Key": "zone", "Value": "a"}, {"Key": "role", "Value": "api"}], instanceNames=["web-1", "db-1"]
    )
    assert Instance.objects.get(name="web-1").tags == {"role": "api", "zone": "a"}
    codedeploy.remove_tags_from_on_premises_instances(
        tags=[{"Key": "zone", "Value": "a"}], instanceNames=["web-1"]
    )
    assert Instance.objects.get(name="web-1").tags == {"role": "api"}
    assert Instance.objects.get(name="db-1").tags == {"role": "api", "zone": "a"}
    with pytest.raises(codedeploy.exceptions.InstanceNotRegisteredException):
        codedeploy.add_tags_to_on_premises_instances(
            tags=[{"Key": "k", "Value": "v"}], instanceNames=["web-1", "x"]
        )
    assert Instance.objects.get(name="web-1").tags == {"role": "api"}
