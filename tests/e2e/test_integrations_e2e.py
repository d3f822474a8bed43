"""Integrations with real agents: a GitHub push auto-deploys (JIRA hears about it), an S3 revision
deploys with the BUNDLE_* variables, and an agent reports its EC2 instance id from instance metadata
which EC2 discovery then matches.

GitHub and JIRA are the local fakes of tests/integrations/fakes.py; S3 is the shared moto server.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import requests
from aws_fixtures import aws_client
from e2e_harness import Fleet

from deployments.models import Application, Deployment, DeploymentGroup, Instance
from integrations.aws.fleet import missing_agents
from integrations.aws.revisions import register_s3_revision
from integrations.models import AutoDeployRule, Ec2Discovery, IssueLink
from integrations.tasks import discover_ec2
from projects.models import Project

# The fakes and helpers of the integration tests (a folder this run may not collect).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))
from factories import WEBHOOK_SECRET, make_aws, make_github, make_jira
from fakes import github_fake, imds_fake, jira_fake, running

HOSTS = ["gh-1", "gh-2"]
EVENTS = ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")
BUNDLE_VARIABLES = ("BUNDLE_COMMIT", "BUNDLE_BUCKET", "BUNDLE_KEY", "BUNDLE_VERSION", "BUNDLE_ETAG")

# Records "<host> <event> NAME=value ..." for every BUNDLE_* variable, "-" when it is not set.
ENV_HOOK = """#!/bin/sh
here=$(cd "$(dirname "$0")" && pwd)
host=$(echo "$here" | sed -n 's#.*/agents/\\([^/]*\\)/root/.*#\\1#p')
echo "$host $LIFECYCLE_EVENT {fields}" >> "{record}"
""".replace("{fields}", " ".join(f"{name}=${{{name}--}}" for name in BUNDLE_VARIABLES))


def bundle_bytes(record: Path, prefix: str = "") -> bytes:
    """A gzipped tarball whose hook records the BUNDLE_* variables; `prefix` is a top-level folder."""
    appspec = "version: 0.0\nos: linux\nhooks:\n" + "".join(
        f"  {event}:\n    - location: scripts/env.sh\n      timeout: 60\n" for event in EVENTS
    )
    files = {
        "appspec.yml": (appspec, 0o644),
        "scripts/env.sh": (ENV_HOOK.replace("{record}", str(record)), 0o755),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, (text, mode) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(prefix + name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def read_env(record: Path) -> dict[tuple[str, str], dict[str, str]]:
    """(host, event) -> {BUNDLE_*: value} for the variables that were set."""
    seen = {}
    for line in record.read_text().splitlines():
        host, event, *pairs = line.split()
        seen[(host, event)] = {k: v for k, v in (p.split("=", 1) for p in pairs) if v != "-"}
    return seen


def start_app(fleet: Fleet, hosts: list[str]) -> tuple[str, list[str]]:
    """An application with a "web" group over this test's agents, started now."""
    app = f"app-{fleet.tag}"
    fleet.api.post("/api/v1/applications/", {"name": app, "project": fleet.project})
    fleet.api.post(
        f"/api/v1/applications/{app}/deployment-groups/",
        {
            "name": "web",
            "deployment_config": "CodeDeployDefault.AllAtOnce",
            "tag_filters": [{"key": "fleet", "value": fleet.tag, "type": "KEY_AND_VALUE"}],
        },
    )
    names = [f"{h}-{fleet.tag}" for h in hosts]
    fleet.start(names)
    return app, names


def wait_for(condition, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout} s")
        time.sleep(0.2)


@pytest.fixture
def github():
    with running(github_fake) as fake:
        yield fake


@pytest.fixture
def jira():
    with running(jira_fake) as fake:
        yield fake


def test_a_signed_push_auto_deploys_the_commit_to_real_agents_and_comments_on_jira(
    fleet, tmp_path, live_stack, github, jira
):
    app, hosts = start_app(fleet, HOSTS)
    project = Project.objects.get(slug=fleet.project)
    connection = make_github(project, github.url)
    make_jira(project, jira.url)
    group = DeploymentGroup.objects.get(application__name=app, name="web")
    AutoDeployRule.objects.create(connection=connection, branch="main", group=group)
    head = github.state.branches["main"]
    github.state.commits[-1]["message"] = "Speed up search (#15), SHOP-7\n\nAlso touches OPS-3."
    record = tmp_path / "env.log"
    github.state.tarball = bundle_bytes(record, prefix=f"acme-shop-{head[:7]}/")

    payload = {
        "ref": "refs/heads/main",
        "after": head,
        "deleted": False,
        "repository": {"full_name": "acme/shop"},
        "pusher": {"name": "ada"},
        "head_commit": {"id": head, "message": github.state.commits[-1]["message"]},
    }
    body = json.dumps(payload).encode()
    url = f"{live_stack.url}/integrations/github/{fleet.project}/webhook"
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
    }
    unsigned = requests.post(url, data=body, headers=headers, timeout=30)
    assert unsigned.status_code == 401
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = requests.post(
        url, data=body, headers={**headers, "X-Hub-Signature-256": signature}, timeout=30
    )
    assert response.status_code == 200, response.text
    (deployment,) = response.json()["deployments"]

    detail = fleet.api.wait(deployment, timeout=90)
    assert detail["status"] == "Succeeded", detail
    assert detail["description"] == "push to main by ada"
    # The worker fetched the commit's tarball from "GitHub" once, with the project's token; the hosts
    # downloaded it from the server with their own credentials, checked against the sha256 it recorded.
    downloads = github.requests_to("GET", f"/repos/acme/shop/tarball/{head}")
    assert len(downloads) == 1
    assert downloads[0].headers.get("authorization") == "token gh-secret-token"
    revision = Deployment.objects.get(pk=deployment).revision
    assert revision.sha256 == hashlib.sha256(github.state.tarball).hexdigest()
    assert revision.size == len(github.state.tarball)
    env = read_env(record)
    assert set(env) == {(host, event) for host in hosts for event in EVENTS}
    assert all(values == {"BUNDLE_COMMIT": head} for values in env.values()), env

    # The worker linked the issues the commit mentions and, after success, commented on each JIRA one.
    wait_for(lambda: {c["key"] for c in jira.state.comments} >= {"SHOP-7", "OPS-3"}, what="JIRA comments")
    linked = set(IssueLink.objects.filter(deployment_id=deployment).values_list("tracker", "key"))
    assert linked == {("github", "#15"), ("jira", "SHOP-7"), ("jira", "OPS-3")}
    assert sorted(c["key"] for c in jira.state.comments) == ["OPS-3", "SHOP-7"]
    assert all(deployment in c["body"] for c in jira.state.comments)
    # And GitHub's Deployments API heard how it ended.
    wait_for(
        lambda: any(s["state"] == "success" for s in github.state.deployment_statuses),
        what="a success GitHub deployment status",
    )


def test_an_s3_revision_deploys_to_real_agents_with_the_bundle_variables(fleet, tmp_path, aws_env):
    app, hosts = start_app(fleet, ["s3-1", "s3-2"])
    record = tmp_path / "env.log"
    s3 = aws_client("s3", aws_env)
    s3.create_bucket(Bucket="releases")
    s3.put_bucket_versioning(Bucket="releases", VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket="releases", Key="shop/v1.tgz", Body=bundle_bytes(record))
    # A later upload under the same key: the revision stays pinned to the version registered.
    s3.put_object(Bucket="releases", Key="shop/v1.tgz", Body=b"not a bundle")
    make_aws(Project.objects.get(slug=fleet.project), aws_env)

    revision = register_s3_revision(
        Application.objects.get(name=app),
        "s3://releases/shop/v1.tgz",
        bundle_type="tgz",
        version=put["VersionId"],
        etag=put["ETag"],
    )
    body = {"application": app, "deployment_group": "web", "revision": revision.pk}
    deployment = fleet.api.post("/api/v1/deployments/", body, expected=201)["id"]
    detail = fleet.api.wait(deployment, timeout=90)

    assert detail["status"] == "Succeeded", detail
    expected = {
        "BUNDLE_BUCKET": "releases",
        "BUNDLE_KEY": "shop/v1.tgz",
        "BUNDLE_VERSION": put["VersionId"],
        "BUNDLE_ETAG": put["ETag"].strip('"'),
    }
    env = read_env(record)
    assert set(env) == {(host, event) for host in hosts for event in EVENTS}
    assert all(values == expected for values in env.values()), env


def test_an_agent_on_ec2_reports_its_instance_id_and_discovery_matches_it(fleet, aws_env):
    ec2 = aws_client("ec2", aws_env)
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"}]}]
    launched = ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2, TagSpecifications=tags)
    with_agent, without_agent = (i["InstanceId"] for i in launched["Instances"])
    imds = imds_fake(with_agent)
    fleet.env.update(FLEETDECK_AGENT_EC2_METADATA="1", FLEETDECK_AGENT_EC2_METADATA_URL=imds.url)
    try:
        app, (host,) = start_app(fleet, ["ec2-1"])
    finally:
        imds.stop()

    assert imds.requests_to("PUT", "/latest/api/token")
    assert Instance.objects.get(name=host).ec2_instance_id == with_agent
    make_aws(Project.objects.get(slug=fleet.project), aws_env)
    group = DeploymentGroup.objects.get(application__name=app, name="web")
    Ec2Discovery.objects.create(group=group, tag_filters=[{"key": "role", "value": "web"}])
    discover_ec2(group.pk)
    assert sorted(Ec2Discovery.objects.get(group=group).matched) == sorted([with_agent, without_agent])
    assert missing_agents(group) == [without_agent]
