"""`fleetdeck-agent adopt-codedeploy`: a host the CodeDeploy agent deployed to is taken over cleanly.

The CodeDeploy side is written exactly as the Ruby agent writes it (lib/instance_agent/plugins/codedeploy/
installer.rb, install_instruction.rb, command_executor.rb): the cleanup file with one `puts` per created
path (and `semanage\\0<path>` for SELinux rules), install.json's instruction list, the last successful and
most recent install files without a newline, and `<group>/<deployment>/deployment-archive/`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fleetdeck_agent.executor import execute
from fleetdeck_agent.paths import DeploymentRoot

CD_GROUP = "8ab4e4a2-5c1f-4d7e-9b11-0c6a3e2f7d90"
CD_DEPLOYMENT = "d-4RS9T0EXA"
FD_GROUP = "2f0c9a7e-1b3d-4c5e-8f90-a1b2c3d4e5f6"


def write_codedeploy_host(tmp_path: Path) -> tuple[Path, Path, Path]:
    """What the CodeDeploy agent leaves after a successful deployment of `/` to <tmp>/srv/shop."""
    cd_root = tmp_path / "codedeploy-agent" / "deployment-root"
    dest = tmp_path / "srv" / "shop"
    stopped = tmp_path / "stopped"
    archive = cd_root / CD_GROUP / CD_DEPLOYMENT / "deployment-archive"
    (archive / "scripts").mkdir(parents=True)
    (archive / "appspec.yml").write_text(
        f"version: 0.0\nos: linux\nfiles:\n  - source: /web\n    destination: {dest}\n"
        "hooks:\n  ApplicationStop:\n    - location: scripts/stop.sh\n      timeout: 60\n"
    )
    (archive / "scripts" / "stop.sh").write_text(f"#!/bin/sh\necho codedeploy-v7 >> {stopped}\n")
    (archive / "scripts" / "stop.sh").chmod(0o755)
    (archive / "web" / "css").mkdir(parents=True)
    (archive / "web" / "index.html").write_text("v7")
    (archive / "web" / "css" / "site.css").write_text("body{}")
    (cd_root / CD_GROUP / CD_DEPLOYMENT / "bundle.tar").write_bytes(b"")
    (cd_root / CD_GROUP / CD_DEPLOYMENT / "logs").mkdir()
    (cd_root / CD_GROUP / CD_DEPLOYMENT / "logs" / "scripts.log").write_text("")
    # Install's own doing: the copies, and its cleanup and install files.
    (dest / "css").mkdir(parents=True)
    (dest / "index.html").write_text("v7")
    (dest / "css" / "site.css").write_text("body{}")
    created = [str(tmp_path / "srv"), str(dest), str(dest / "css"), str(dest / "css" / "site.css")]
    created.insert(3, str(dest / "index.html"))
    instructions = cd_root / "deployment-instructions"
    instructions.mkdir()
    (instructions / f"{CD_GROUP}-cleanup").write_text(
        "".join(path + "\n" for path in created) + f"semanage\0{dest}\n"
    )
    (instructions / f"{CD_GROUP}-install.json").write_text(
        json.dumps(
            {
                "instructions": [
                    {"type": "mkdir", "directory": created[0]},
                    {"type": "mkdir", "directory": created[1]},
                    {"type": "mkdir", "directory": created[2]},
                    {"type": "copy", "source": str(archive / "web/index.html"), "destination": created[3]},
                    {"type": "copy", "source": str(archive / "web/css/site.css"), "destination": created[4]},
                ]
            }
        )
    )
    last = str(cd_root / CD_GROUP / CD_DEPLOYMENT)
    (instructions / f"{CD_GROUP}_last_successful_install").write_text(last)
    (instructions / f"{CD_GROUP}_most_recent_install").write_text(last)
    (cd_root / "deployment-logs").mkdir()
    (cd_root / "deployment-logs" / "codedeploy-agent-deployments.log").write_text("")
    (cd_root / "ongoing-deployment").mkdir()
    return cd_root, dest, stopped


def new_revision(tmp_path: Path, dest: Path, stopped: Path, name: str = "fleetdeck-rev") -> Path:
    rev = tmp_path / name
    (rev / "web").mkdir(parents=True)
    (rev / "appspec.yml").write_text(
        f"version: 0.0\nos: linux\nfiles:\n  - source: web\n    destination: {dest}\n"
        "hooks:\n  ApplicationStop:\n    - location: stop.sh\n"
    )
    (rev / "stop.sh").write_text(f"#!/bin/sh\necho fleetdeck >> {stopped}\n")
    (rev / "stop.sh").chmod(0o755)
    (rev / "web" / "index.html").write_text("v8 from Fleetdeck")
    return rev


def deploy(root: DeploymentRoot, rev: Path, deployment_id: str = "d-FLEET0001") -> dict:
    results = {}
    for event in ("ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall"):
        command = {
            "id": f"{deployment_id}-{event}",
            "deployment_id": deployment_id,
            "lifecycle_event": event,
            "application_name": "shop",
            "deployment_group_name": "production",
            "deployment_group_id": FD_GROUP,
            "revision": {"source": "local", "bundle_type": "directory", "url": str(rev)},
            "file_exists_behavior": "DISALLOW",
        }
        results[event] = execute(command, root)
        if results[event]["status"] == "Failed":
            break
    return results


def adopt_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fleetdeck_agent", "adopt-codedeploy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_adoption_the_first_deployment_trips_over_codedeploys_files(tmp_path):
    _cd_root, dest, stopped = write_codedeploy_host(tmp_path)
    result = deploy(DeploymentRoot(str(tmp_path / "fleetdeck-root")), new_revision(tmp_path, dest, stopped))
    assert result["ApplicationStop"]["status"] == "Skipped"
    assert result["Install"]["status"] == "Failed"
    assert (
        f"already exists at this location: {dest}/index.html" in result["Install"]["diagnostics"]["message"]
    )


def test_after_adoption_the_first_deployment_stops_the_old_revision_and_replaces_its_files(tmp_path):
    cd_root, dest, stopped = write_codedeploy_host(tmp_path)
    fd_root = tmp_path / "fleetdeck-root"
    proc = adopt_cli(
        "--root", str(cd_root), "--group", f"{CD_GROUP}={FD_GROUP}", "--fleetdeck-root", str(fd_root)
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Adopted CodeDeploy group {CD_GROUP} as Fleetdeck group {FD_GROUP}" in proc.stdout
    assert "replaces the 5 paths CodeDeploy installed (left out 1 SELinux rules" in proc.stdout

    result = deploy(DeploymentRoot(str(fd_root)), new_revision(tmp_path, dest, stopped))
    assert {event: r["status"] for event, r in result.items()} == {
        "ApplicationStop": "Succeeded",
        "DownloadBundle": "Succeeded",
        "BeforeInstall": "Skipped",
        "Install": "Succeeded",
        "AfterInstall": "Skipped",
    }, result
    assert stopped.read_text() == "codedeploy-v7\n", "the old revision's ApplicationStop ran"
    assert (dest / "index.html").read_text() == "v8 from Fleetdeck"
    assert not (dest / "css").exists(), "CodeDeploy's files were removed from its cleanup list"
    # CodeDeploy's own state is only read.
    assert (cd_root / "deployment-instructions" / f"{CD_GROUP}-cleanup").exists()
    assert (cd_root / CD_GROUP / CD_DEPLOYMENT / "deployment-archive" / "appspec.yml").exists()

    # The next deployment stops the Fleetdeck revision, as usual.
    assert (
        deploy(DeploymentRoot(str(fd_root)), new_revision(tmp_path, dest, stopped, "rev-2"), "d-FLEET0002")[
            "Install"
        ]["status"]
        == "Succeeded"
    )
    assert stopped.read_text() == "codedeploy-v7\nfleetdeck\n"


def test_an_unfinished_last_cleanup_line_is_dropped_as_codedeploy_drops_it(tmp_path):
    cd_root, dest, _stopped = write_codedeploy_host(tmp_path)
    cleanup = cd_root / "deployment-instructions" / f"{CD_GROUP}-cleanup"
    cleanup.write_text(cleanup.read_text() + f"{dest}/half-writ")
    fd_root = DeploymentRoot(str(tmp_path / "fleetdeck-root"))
    assert (
        adopt_cli(
            "--root", str(cd_root), "--group", f"{CD_GROUP}={FD_GROUP}", "--fleetdeck-root", fd_root.root
        ).returncode
        == 0
    )
    lines = Path(fd_root.cleanup_file(FD_GROUP)).read_text().splitlines()
    assert lines[-1] == f"{dest}/css/site.css" and len(lines) == 5


def test_an_unknown_group_is_refused_listing_the_groups_found_and_nothing_is_written(tmp_path):
    cd_root, _dest, _stopped = write_codedeploy_host(tmp_path)
    fd_root = tmp_path / "fleetdeck-root"
    proc = adopt_cli(
        "--root", str(cd_root), "--group", f"production={FD_GROUP}", "--fleetdeck-root", str(fd_root)
    )
    assert proc.returncode == 1
    assert f"No CodeDeploy deployment group production under {cd_root}" in proc.stderr
    assert f"Groups found: {CD_GROUP} (last deployment {CD_DEPLOYMENT})" in proc.stderr
    assert not fd_root.exists()


def test_without_group_it_lists_what_it_found(tmp_path):
    cd_root, _dest, _stopped = write_codedeploy_host(tmp_path)
    proc = adopt_cli("--root", str(cd_root), "--fleetdeck-root", str(tmp_path / "fd"))
    assert proc.returncode == 2
    assert f"{CD_GROUP}  (last successful deployment: {CD_DEPLOYMENT})" in proc.stdout


def test_adopting_twice_is_harmless_but_not_over_fleetdecks_own_deployments(tmp_path):
    cd_root, _dest, stopped = write_codedeploy_host(tmp_path)
    fd_root = tmp_path / "fleetdeck-root"
    args = ("--root", str(cd_root), "--group", f"{CD_GROUP}={FD_GROUP}")
    assert adopt_cli(*args, "--fleetdeck-root", str(fd_root)).returncode == 0
    again = adopt_cli(*args, "--fleetdeck-root", str(fd_root))
    assert again.returncode == 0 and "already adopted" in again.stdout

    # A host where Fleetdeck deployed the group first: its own cleanup list must not be replaced.
    other_root = tmp_path / "other-root"
    other_dest = tmp_path / "elsewhere"
    rev = new_revision(tmp_path, other_dest, stopped, "rev-other")
    assert deploy(DeploymentRoot(str(other_root)), rev)["Install"]["status"] == "Succeeded"
    refused = adopt_cli(*args, "--fleetdeck-root", str(other_root))
    assert refused.returncode == 1 and f"Fleetdeck already deployed group {FD_GROUP}" in refused.stderr
    assert (other_dest / "index.html").exists()


@pytest.mark.parametrize("value", ["no-equals-sign", "=x", f"{CD_GROUP}="])
def test_a_malformed_group_is_a_usage_error(tmp_path, value):
    cd_root, _dest, _stopped = write_codedeploy_host(tmp_path)
    proc = adopt_cli("--root", str(cd_root), "--group", value, "--fleetdeck-root", str(tmp_path / "fd"))
    assert proc.returncode == 2 and "CODEDEPLOY_GROUP_ID=FLEETDECK_GROUP_ID" in proc.stderr


def test_a_real_agent_process_takes_the_host_over_after_adoption(tmp_path, fake_server, make_bundle):
    """`fleetdeck-agent run` against the agent API: adopt (the root read from the agent's config), then
    the first deployment's commands as the server sends them."""
    from test_agent_server import AgentProcess, bundle_command

    cd_root, dest, stopped = write_codedeploy_host(tmp_path)
    agent = AgentProcess(tmp_path, fake_server.url)
    proc = adopt_cli(
        "--root", str(cd_root), "--group", f"{CD_GROUP}={FD_GROUP}", "--config", str(agent.config)
    )
    assert proc.returncode == 0, proc.stderr
    bundle = make_bundle(new_revision(tmp_path, dest, stopped), "tgz")
    events = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall"]
    fake_server.commands = [
        bundle_command(fake_server, bundle, event, f"c-{event}", deployment_group_id=FD_GROUP)
        for event in events
    ]
    agent.start()
    try:
        assert fake_server.wait_for(lambda: "c-AfterInstall" in fake_server.completes, timeout=30), (
            agent.log()
        )
        statuses = {event: fake_server.completes[f"c-{event}"][1]["status"] for event in events}
        assert statuses == {
            "ApplicationStop": "Succeeded",
            "DownloadBundle": "Succeeded",
            "BeforeInstall": "Skipped",
            "Install": "Succeeded",
            "AfterInstall": "Skipped",
        }, statuses
        assert stopped.read_text() == "codedeploy-v7\n"
        assert (dest / "index.html").read_text() == "v8 from Fleetdeck"
        assert not (dest / "css").exists()
        assert agent.terminate() == 0
    finally:
        agent.stop()
