"""The `fleetdeck` CLI as a CI job runs it: a real subprocess against the live stack and real agents."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile

import pytest
from e2e_harness import recording_bundle

CLI = [sys.executable, "-m", "fleetdeck_cli"]


@pytest.fixture
def run(live_stack, api, tmp_path):
    env = {
        **os.environ,
        "FLEETDECK_URL": live_stack.url,
        "FLEETDECK_TOKEN": api.session.headers["Authorization"].split()[1],
        "FLEETDECK_CONFIG": str(tmp_path / "no-config"),
        "FLEETDECK_POLL_INTERVAL": "0.3",
    }

    def fleetdeck(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    return fleetdeck


def bundle_folder(tmp_path, label: str, record, ctl):
    """A source folder with the harness's recording hook for every scriptable event."""
    archive = recording_bundle(tmp_path / f"{label}.tgz", label=label, record=record, ctl=ctl)
    folder = tmp_path / label
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def test_push_deploy_wait_and_logs_report_success_and_failure(run, fleet, tmp_path):
    app, ctl, record = f"cli-{fleet.tag}", tmp_path / "ctl", tmp_path / "record.log"
    ctl.mkdir()
    fleet.api.post("/api/v1/applications/", {"name": app, "project": fleet.project})
    fleet.api.post(
        f"/api/v1/applications/{app}/deployment-groups/",
        {
            "name": "web",
            "deployment_config": "CodeDeployDefault.AllAtOnce",
            "tag_filters": [{"key": "fleet", "value": fleet.tag, "type": "KEY_AND_VALUE"}],
        },
    )
    hosts = [f"cli-{n}-{fleet.tag}" for n in (1, 2)]
    fleet.start(hosts)

    pushed = run(
        "push", "-a", app, "-s", str(bundle_folder(tmp_path, "v1", record, ctl)), "--description", "v1"
    )
    assert pushed.returncode == 0, pushed.stderr
    revision = int(pushed.stdout.strip())

    plan = run("plan", "-a", app, "-g", "web")
    assert plan.returncode == 0, plan.stderr
    assert "2 instance(s)" in plan.stdout

    deployed = run("deploy", "-a", app, "-g", "web", "--revision", str(revision), "--wait")
    assert deployed.returncode == 0, deployed.stderr
    deployment = deployed.stdout.strip()
    assert f"Deployment {deployment} Succeeded" in deployed.stderr
    assert f"{deployment} {hosts[0]}: Succeeded" in deployed.stderr  # plain lines: no TTY here
    assert api_status(fleet, deployment) == "Succeeded"

    logs = run("logs", deployment, "--instance", hosts[1])
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    assert f"[{hosts[1]} AfterInstall] v1 AfterInstall on {hosts[1]}: first line" in lines
    assert f"[{hosts[1]} ValidateService] v1 ValidateService on {hosts[1]}: second line" in lines
    assert not any(hosts[0] in line for line in lines)

    # v2's AfterInstall fails on every host: the job must fail, and say why.
    (ctl / "v2.AfterInstall.fail").write_text("")
    pushed = run("push", "-a", app, "-s", str(bundle_folder(tmp_path, "v2", record, ctl)))
    assert pushed.returncode == 0, pushed.stderr
    failed = run("deploy", "-a", app, "-g", "web", "--latest", "--wait", "--logs")
    assert failed.returncode == 3, failed.stderr
    deployment = failed.stdout.strip()
    assert f"Deployment {deployment} Failed" in failed.stderr
    assert "AfterInstall Failed ScriptFailed" in failed.stderr
    assert "| failing on purpose" in failed.stderr  # the failing script's last lines
    assert f"[{hosts[0]} AfterInstall stderr] failing on purpose" in failed.stderr  # --logs, live
    assert run("wait", deployment).returncode == 3


def api_status(fleet, deployment: str) -> str:
    return fleet.api.get(f"/api/v1/deployments/{deployment}/")["status"]


def test_push_refuses_a_bad_appspec_before_uploading(run, api, fleet, tmp_path):
    app = f"cli-bad-{fleet.tag}"
    api.post("/api/v1/applications/", {"name": app, "project": fleet.project})
    folder = tmp_path / "bad"
    (folder / "scripts").mkdir(parents=True)
    (folder / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  AfterInstal:\n    - location: x.sh\n"
    )

    pushed = run("push", "-a", app, "-s", str(folder))

    assert pushed.returncode == 2
    assert f"{folder}/appspec.yml, line 4:" in pushed.stderr and "AfterInstal" in pushed.stderr
    assert pushed.stdout == ""
    assert api.get(f"/api/v1/applications/{app}/revisions/")["count"] == 0
