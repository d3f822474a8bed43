"""The AWS CLI v1 (awscli from PyPI, run as subprocesses) against the live stack (uvicorn, worker, real
agents): a team's `aws deploy` pipeline, unchanged but for a profile. Two profiles, as
docs/codedeploy-api.md sets them up: `aws` for S3 (moto's server through AWS_ENDPOINT_URL_S3) and
`fleetdeck`, whose CodeDeploy endpoint is the live server's and whose key is a Fleetdeck access key.

awscli 1.46 vendors its own botocore (awscli/botocore), so it does not pin the project's botocore and
installs into the project's venv (dev extras)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from e2e_harness import Fleet, read_records, recording_bundle

from projects.models import AccessKey, ApiToken, Project

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))
from factories import make_aws

AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"


def _key(fleet: Fleet) -> tuple[AccessKey, str]:
    token = fleet.api.session.headers["Authorization"].removeprefix("Token ")
    user = ApiToken.authenticate(token).user
    return AccessKey.issue(user, Project.objects.get(slug=fleet.project))


def _profiles(tmp_path: Path, key_id: str, secret: str, endpoint: str) -> dict[str, str]:
    credentials, config = tmp_path / "credentials", tmp_path / "config"
    credentials.write_text(
        "[aws]\naws_access_key_id = testing\naws_secret_access_key = testing\n\n"
        f"[fleetdeck]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    )
    config.write_text(
        "[profile aws]\nregion = us-east-1\n\n"
        "[profile fleetdeck]\nregion = us-east-1\nservices = fleetdeck\n\n"
        f"[services fleetdeck]\ncodedeploy =\n  endpoint_url = {endpoint}\n"
    )
    return {"AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_CONFIG_FILE": str(config)}


def test_the_aws_cli_runs_a_pipeline_against_fleetdeck(fleet, live_stack, aws_env, tmp_path):
    key, secret = _key(fleet)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k != "FLEETDECK_AWS_DEFAULT_CREDENTIALS"
    }
    env.update(_profiles(tmp_path, key.key_id, secret, f"{live_stack.url}/codedeploy"))
    env["AWS_ENDPOINT_URL_S3"] = aws_env

    def aws(*args: str, profile: str = "fleetdeck") -> dict:
        done = subprocess.run(
            [AWS, "--profile", profile, "--output", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"aws {' '.join(args)}: {done.stderr[-2000:]}"
        return json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}

    hosts = [f"cli-{n}-{fleet.tag}" for n in (1, 2)]
    fleet.start(hosts)
    record, ctl = tmp_path / "record.log", tmp_path / "ctl"
    ctl.mkdir()
    source = tmp_path / "source"
    with tarfile.open(recording_bundle(tmp_path / "v1.tgz", label="v1", record=record, ctl=ctl)) as tar:
        tar.extractall(source, filter="tar")
    make_aws(Project.objects.get(slug=fleet.project), aws_env)  # the server reads the bundle with these

    aws("s3", "mb", "s3://releases", profile="aws")
    aws("deploy", "create-application", "--application-name", "shop", "--compute-platform", "Server")
    aws(
        "deploy",
        "create-deployment-group",
        "--application-name",
        "shop",
        "--deployment-group-name",
        "web",
        "--service-role-arn",
        "arn:aws:iam::123456789012:role/CodeDeployServiceRole",
        "--on-premises-instance-tag-filters",
        f"Key=fleet,Value={fleet.tag},Type=KEY_AND_VALUE",
    )
    aws(
        "deploy",
        "push",
        "--application-name",
        "shop",
        "--s3-location",
        "s3://releases/shop/v1.zip",
        "--source",
        str(source),
        "--description",
        "v1 from aws deploy push",
    )
    revisions = aws("deploy", "list-application-revisions", "--application-name", "shop")["revisions"]
    assert [r["s3Location"]["key"] for r in revisions] == ["shop/v1.zip"]

    deployment_id = aws(
        "deploy",
        "create-deployment",
        "--application-name",
        "shop",
        "--deployment-group-name",
        "web",
        "--s3-location",
        "bucket=releases,key=shop/v1.zip,bundleType=zip",
        "--description",
        "first from the CLI",
    )["deploymentId"]
    aws("deploy", "wait", "deployment-successful", "--deployment-id", deployment_id)

    info = aws("deploy", "get-deployment", "--deployment-id", deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded" and info["description"] == "first from the CLI"
    assert info["deploymentOverview"]["Succeeded"] == 2
    ran = {
        (r.host, r.event) for r in read_records(record) if r.deployment == deployment_id and r.phase == "end"
    }
    assert {(host, "ApplicationStart") for host in hosts} <= ran


def test_the_aws_cli_gets_codedeploys_own_error(fleet, live_stack, tmp_path):
    key, secret = _key(fleet)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(_profiles(tmp_path, key.key_id, secret, f"{live_stack.url}/codedeploy"))
    done = subprocess.run(
        [AWS, "--profile", "fleetdeck", "deploy", "get-application", "--application-name", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "ApplicationDoesNotExistException" in done.stderr
