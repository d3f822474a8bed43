"""`fleetdeck register`: an archive in S3 (moto's server) or a GitHub commit (the local fake) becomes a
revision, checked by the server through the project's connection; the CLI needs no AWS SDK."""

from __future__ import annotations

import json

import pytest
from fakes import sha
from fleetdeck_cli.errors import AUTH, ERROR, USAGE
from revision_helpers import connected_github, releases_bucket

from deployments.models import Revision


@pytest.fixture
def s3(aws_env, project):
    return releases_bucket(project, aws_env)


@pytest.fixture
def github(project):
    with connected_github(project) as fake:
        yield fake


def test_it_registers_an_s3_object_and_prints_the_revision_id(cli, application, s3):
    put = s3.put_object(Bucket="releases", Key="shop/shop-1.4.tgz", Body=b"a tarball")
    result = cli(
        "register",
        "-a",
        "shop-app",
        "--s3",
        "s3://releases/shop/shop-1.4.tgz",
        "--etag",
        put["ETag"],
        "--version",
        put["VersionId"],
        "--description",
        "1.4",
    )
    assert result.code == 0, result.err
    revision = Revision.objects.get()
    assert result.out.strip() == str(revision.pk)
    assert revision.source == "s3" and revision.bundle_type == "tgz" and revision.description == "1.4"
    assert revision.location["version"] == put["VersionId"]
    assert "at s3://releases/shop/shop-1.4.tgz" in result.err
    assert f"--revision {revision.pk}" in result.err


def test_an_etag_mismatch_is_refused_with_the_servers_reason(cli, application, s3):
    s3.put_object(Bucket="releases", Key="shop/app", Body=b"x")
    result = cli(
        "register",
        "-a",
        "shop-app",
        "--s3",
        "s3://releases/shop/app",
        "--bundle-type",
        "ZIP",
        "--etag",
        "abc",
    )
    assert result.code == ERROR
    assert "s3: s3://releases/shop/app has ETag" in result.err and "not abc" in result.err
    assert not Revision.objects.exists()


def test_it_registers_a_github_commit_with_json_output(cli, application, github):
    result = cli("register", "-a", "shop-app", "--github", "acme/shop", "--commit", sha(3), "--json")
    assert result.code == 0, result.err
    body = json.loads(result.out)
    assert body["source"] == "github"
    assert body["location"] == {"repository": "acme/shop", "commit": sha(3)}
    assert body["description"] == "Speed up search (#15)"
    assert Revision.objects.get().pk == body["id"]
    listed = cli("revisions", "-a", "shop-app")
    assert f"acme/shop@{sha(3)[:12]}" in listed.out


def test_an_unknown_commit_names_the_field(cli, application, github):
    result = cli("register", "-a", "shop-app", "--github", "acme/shop", "--commit", "abcdef1")
    assert result.code == ERROR
    assert "github.commit: acme/shop has no commit abcdef1" in result.err
    assert not Revision.objects.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--github", "acme/shop"], "--github needs --commit SHA"),
        (["--github", "acme/shop", "--commit", "abc1234", "--etag", "x"], "--etag goes only with --s3"),
        (["--s3", "s3://releases/a.zip", "--commit", "abc1234"], "--commit goes only with --github"),
        (["--s3", "releases/a.zip"], "--s3 must look like s3://BUCKET/KEY"),
        (["--s3", "s3://releases"], "--s3 must look like s3://BUCKET/KEY"),
    ],
)
def test_usage_mistakes_are_refused_before_any_request(offline_cli, args, message):
    result = offline_cli("register", "-a", "shop-app", *args)
    assert result.code == USAGE
    assert message in result.err


def test_s3_and_github_together_is_a_usage_error(offline_cli):
    with pytest.raises(SystemExit) as exit_:
        offline_cli("register", "-a", "x", "--s3", "s3://b/k.zip", "--github", "a/b", "--commit", "abc1234")
    assert exit_.value.code == USAGE


def test_a_viewer_is_told_the_role_and_an_unknown_application_is_named(
    cli, server, application, github, project, django_user_model, monkeypatch
):
    from projects.models import ApiToken, Membership, Role

    assert cli("register", "-a", "no-such-app", "--github", "acme/shop", "--commit", sha(1)).code == ERROR
    assert "Application 'no-such-app'" in cli.last.err
    viewer = django_user_model.objects.create_user("viewer", password="pw")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    monkeypatch.setenv("FLEETDECK_TOKEN", ApiToken.issue(viewer, "ci")[1])
    result = cli("register", "-a", "shop-app", "--github", "acme/shop", "--commit", sha(1))
    assert result.code == AUTH
    assert "contributor" in result.err
    assert not Revision.objects.exists()
