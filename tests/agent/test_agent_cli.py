"""The `fleetdeck-agent` command line, run as a real subprocess: --version, local, register."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys

import pytest
import yaml
from fleetdeck_agent import __version__

HEAD = "version: 0.0\nos: linux\n"


def agent(*args, env=None, timeout=30, cwd=None):
    full_env = dict(os.environ, FLEETDECK_AGENT_EC2_METADATA="0", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "fleetdeck_agent", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture
def refused_url():
    """A port that is bound but not listening: connections are refused, and no one else can take it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_version_prints_the_package_version():
    result = agent("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"fleetdeck-agent {__version__}"


def test_local_mode_runs_the_lifecycle_and_prints_a_summary(make_revision, make_bundle, tmp_path):
    dest = tmp_path / "srv"
    spec = (
        HEAD
        + f"files:\n  - source: web\n    destination: {dest}\n"
        + ("hooks:\n  AfterInstall:\n    - location: scripts/after.sh\n")
    )
    rev = make_revision(
        spec, {"web/index.html": "hi", "scripts/after.sh": "#!/bin/sh\necho after-install-ran\n"}
    )
    bundle = make_bundle(rev, "zip", top="app/")
    result = agent("local", "--bundle", str(bundle), "--root", str(tmp_path / "root"))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "after-install-ran" in out
    for event, status in [
        ("ApplicationStop", "Skipped"),
        ("DownloadBundle", "Succeeded"),
        ("Install", "Succeeded"),
        ("AfterInstall", "Succeeded"),
        ("ValidateService", "Skipped"),
    ]:
        assert any(line.split()[:2] == [event, status] for line in out.splitlines()), (event, out)
    assert "Deployment succeeded" in out
    assert (dest / "index.html").read_text() == "hi"


def test_a_second_local_run_stops_the_previous_revision(make_revision, tmp_path):
    marker = tmp_path / "stopped"
    spec = HEAD + "hooks:\n  ApplicationStop:\n    - location: stop.sh\n"
    first = make_revision(spec, {"stop.sh": f"#!/bin/sh\necho first >> {marker}\n"})
    second = make_revision(spec, {"stop.sh": f"#!/bin/sh\necho second >> {marker}\n"})
    root = str(tmp_path / "root")
    assert agent("local", "--bundle", str(first), "--root", root).returncode == 0
    result = agent("local", "--bundle", str(second), "--root", root, "--type", "directory")
    assert result.returncode == 0
    assert marker.read_text() == "first\n"


def test_local_mode_exits_non_zero_and_marks_the_rest_not_run_on_failure(make_revision, tmp_path):
    spec = HEAD + "hooks:\n  BeforeInstall:\n    - location: fail.sh\n"
    rev = make_revision(spec, {"fail.sh": "#!/bin/sh\necho broken >&2\nexit 2\n"})
    result = agent("local", "--bundle", str(rev), "--root", str(tmp_path / "root"))
    assert result.returncode == 1
    assert "ScriptFailed: Script at specified location: fail.sh run as user" in result.stdout
    assert any(line.split()[:2] == ["Install", "NotRun"] for line in result.stdout.splitlines())
    assert "Deployment failed" in result.stdout


def test_local_mode_runs_only_the_chosen_events(make_revision, tmp_path):
    rev = make_revision(HEAD)
    result = agent(
        "local",
        "--bundle",
        str(rev),
        "--root",
        str(tmp_path / "root"),
        "--events",
        "DownloadBundle,BeforeInstall",
    )
    assert result.returncode == 0
    assert "ApplicationStop" not in result.stdout


def test_local_mode_rejects_an_unknown_event(make_revision, tmp_path):
    result = agent(
        "local", "--bundle", str(make_revision(HEAD)), "--root", str(tmp_path), "--events", "Deploy"
    )
    assert result.returncode == 2 and "Unknown lifecycle event(s): Deploy" in result.stderr


def test_local_mode_reports_an_invalid_appspec_with_file_and_line(make_revision, tmp_path):
    rev = make_revision("version: 0.0\nos: windows\n")
    result = agent("local", "--bundle", str(rev), "--root", str(tmp_path / "root"))
    assert result.returncode == 1
    assert (
        "appspec.yml, line 2: The deployment failed because the application specification file specifies an "
        'unsupported operating system ("windows")' in result.stdout
    )


def test_register_against_an_unreachable_server_fails_clearly(tmp_path, refused_url):
    config = tmp_path / "config.yml"
    result = agent("register", "--server", refused_url, "--token", "fdr_x", "--config", str(config))
    assert result.returncode == 1
    assert "Cannot reach the Fleetdeck server" in result.stderr
    assert "fdr_x" not in result.stderr
    assert not config.exists()


def test_register_needs_a_server_and_a_token(tmp_path):
    result = agent(
        "register",
        "--config",
        str(tmp_path / "c.yml"),
        env={"FLEETDECK_SERVER": "", "FLEETDECK_REGISTRATION_TOKEN": ""},
    )
    assert result.returncode == 2 and "--server and --token" in result.stderr


def test_register_writes_a_0600_config_from_flags_and_env(fake_server, tmp_path):
    fake_server.register_answer = {"instance_id": 17, "name": "web-1", "credential": "fdi_secret"}
    config = tmp_path / "etc" / "agent.yml"
    result = agent(
        "register",
        "--tag",
        "tier=front",
        "--name",
        "web-1",
        env={
            "FLEETDECK_SERVER": fake_server.url,
            "FLEETDECK_REGISTRATION_TOKEN": "fdr_token",
            "FLEETDECK_AGENT_CONFIG": str(config),
            "FLEETDECK_AGENT_ROOT": str(tmp_path / "root"),
            "FLEETDECK_AGENT_TAGS": "role=web,env=prod",
        },
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    saved = yaml.safe_load(config.read_text())
    assert saved["credential"] == "fdi_secret" and saved["instance_id"] == 17
    assert saved["server"] == fake_server.url and saved["root"] == str(tmp_path / "root")
    assert saved["ec2_metadata"] is False
    body = fake_server.requests[0]["body"]
    assert body["token"] == "fdr_token" and body["name"] == "web-1" and body["ec2_instance_id"] is None
    assert body["tags"] == {"role": "web", "env": "prod", "tier": "front"}
    assert body["agent_version"] == __version__ and body["platform"] == "linux"
    assert fake_server.requests[0]["authorization"] is None
    assert "fdi_secret" not in result.stderr + result.stdout


def test_register_can_write_a_json_config(fake_server, tmp_path):
    fake_server.register_answer = {"instance_id": 3, "name": "db", "credential": "fdi_db"}
    config = tmp_path / "agent.json"
    result = agent("register", "--server", fake_server.url, "--token", "t", "--config", str(config))
    assert result.returncode == 0
    assert json.loads(config.read_text())["credential"] == "fdi_db"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_register_reports_a_refused_token(fake_server, tmp_path):
    fake_server.register_status = 401
    result = agent(
        "register", "--server", fake_server.url, "--token", "bad", "--config", str(tmp_path / "c.yml")
    )
    assert result.returncode == 1 and "Registration refused" in result.stderr


def test_run_without_a_config_explains_how_to_register(tmp_path):
    result = agent("run", "--config", str(tmp_path / "missing.yml"))
    assert result.returncode == 2 and "fleetdeck-agent register" in result.stderr
