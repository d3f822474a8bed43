"""`fleetdeck push --s3`: the server stores the checked bundle in S3 (moto's server) with the
project's AWS connection and registers an S3 revision; the CLI needs no AWS SDK."""

from __future__ import annotations

import hashlib

import pytest
from aws_fixtures import aws_client
from cli_helpers import APPSPEC, bundle_folder
from factories import make_aws

from deployments.models import Revision


@pytest.fixture
def s3(aws_env):
    client = aws_client("s3", aws_env)
    client.create_bucket(Bucket="releases")
    client.put_bucket_versioning(Bucket="releases", VersioningConfiguration={"Status": "Enabled"})
    return client


def test_push_to_s3_stores_the_bundle_there_and_registers_an_s3_revision(
    cli, application, project, s3, aws_env, tmp_path
):
    make_aws(project, aws_env)
    source = bundle_folder(tmp_path / "src")
    result = cli(
        "push",
        "-a",
        "shop-app",
        "-s",
        str(source),
        "--s3",
        "s3://releases/shop/builds/",
        "--description",
        "v1",
    )
    assert result.code == 0, result.err
    revision = Revision.objects.get()
    assert result.out.strip() == str(revision.pk)
    assert revision.source == "s3"
    assert revision.appspec == APPSPEC and revision.description == "v1"
    location = revision.location
    assert location["bucket"] == "releases"
    assert location["key"] == f"shop/builds/shop-app-{revision.sha256[:12]}.tgz"
    stored = s3.get_object(Bucket="releases", Key=location["key"], VersionId=location["version"])
    body = stored["Body"].read()
    assert hashlib.sha256(body).hexdigest() == revision.sha256
    assert stored["ETag"].strip('"') == location["etag"]
    assert not revision.bundle  # nothing kept on the server's disk
    assert f"s3://releases/{location['key']}" in result.err


def test_without_an_aws_connection_the_push_is_refused_and_nothing_is_registered(
    cli, application, s3, tmp_path
):
    source = bundle_folder(tmp_path / "src")
    result = cli("push", "-a", "shop-app", "-s", str(source), "--s3", "s3://releases/shop")
    assert result.code == 1
    assert "s3_location: This project has no AWS connection" in result.err
    assert not Revision.objects.exists()
    assert s3.list_objects_v2(Bucket="releases").get("KeyCount") == 0


def test_a_missing_bucket_is_refused_with_its_name(cli, application, project, s3, aws_env, tmp_path):
    make_aws(project, aws_env)
    source = bundle_folder(tmp_path / "src")
    result = cli("push", "-a", "shop-app", "-s", str(source), "--s3", "s3://no-such-bucket/x")
    assert result.code == 1
    assert "s3://no-such-bucket/x/shop-app-" in result.err and "cannot be written" in result.err
    assert not Revision.objects.exists()
