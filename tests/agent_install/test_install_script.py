"""The install script, run for real (`curl | sh` style) against a live server serving the real wheel."""

from __future__ import annotations

import hashlib
import stat
import subprocess

import pytest
import yaml
from fleetdeck_testing import require
from install_helpers import Host, output

from config.stack import free_port
from deployments.models import Instance

UNIT = "fleetdeck-agent.service"


@pytest.fixture
def host(live_server, tmp_path) -> Host:
    return Host(tmp_path, live_server.url)


def agent_version(host: Host) -> str:
    result = subprocess.run(
        [host.venv / "bin" / "fleetdeck-agent", "--version"], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.mark.timeout(900)  # four real installs (venv + pip); minutes on a loaded machine
def test_it_installs_registers_upgrades_rolls_back_and_uninstalls(host, token, project):
    # First install: venv, agent from the server, registration, unit, systemd.
    result = host.run("--token", token, "--tag", "env=prod", "--name", "web-1")
    assert result.returncode == 0, output(result)
    assert agent_version(host).startswith("fleetdeck-agent ")
    instance = Instance.objects.get(name="web-1")
    assert instance.project == project
    assert instance.tags == {"role": "web", "env": "prod"}
    config = yaml.safe_load(host.config.read_text())
    assert config["server"] == host.server
    assert config["root"] == str(host.deployment_root)
    assert stat.S_IMODE(host.config.stat().st_mode) == 0o600
    assert instance.credential_hash == hashlib.sha256(config["credential"].encode()).hexdigest()
    assert config["credential"] not in instance.credential_hash
    unit = host.unit.read_text()
    assert f"ExecStart={host.venv}/bin/fleetdeck-agent run --config {host.config}\n" in unit
    assert "Restart=on-failure\n" in unit
    assert "KillMode=process\n" in unit
    assert "WantedBy=multi-user.target" in unit
    assert host.systemctl_calls() == ["daemon-reload", f"enable --now {UNIT}"]
    assert token not in output(result)

    # A second run without a token upgrades: new venv, same registration, agent restarted.
    credential = config["credential"]
    result = host.run()
    assert result.returncode == 0, output(result)
    assert "already registered as web-1" in output(result)
    assert yaml.safe_load(host.config.read_text())["credential"] == credential
    assert Instance.objects.count() == 1
    assert host.systemctl_calls() == [
        f"is-active --quiet {UNIT}",
        f"stop {UNIT}",
        "daemon-reload",
        f"enable --now {UNIT}",
    ]

    # `--token` run again (a re-install): the host presents its credential and keeps its identity.
    result = host.run("--token", token, "--name", "web-1")
    assert result.returncode == 0, output(result)
    assert yaml.safe_load(host.config.read_text())["credential"] == credential
    assert Instance.objects.get().pk == instance.pk
    assert Instance.authenticate(credential).pk == instance.pk
    assert host.systemctl_calls() == [
        f"is-active --quiet {UNIT}",
        f"stop {UNIT}",
        "daemon-reload",
        f"enable --now {UNIT}",
    ]

    # A re-run with a revoked token fails and puts the working installation back.
    from deployments.models import RegistrationToken

    RegistrationToken.objects.get().revoke()
    result = host.run("--token", token)
    assert result.returncode == 1
    assert "The registration token is unknown, expired or revoked" in output(result)
    assert "the previous installation is back in place" in output(result)
    assert agent_version(host).startswith("fleetdeck-agent ")
    assert yaml.safe_load(host.config.read_text())["credential"] == credential
    assert not (host.install_dir / "venv.previous").exists()
    assert host.systemctl_calls() == [f"is-active --quiet {UNIT}", f"stop {UNIT}", f"start {UNIT}"]

    # Uninstall keeps the config and the deployment root; --purge removes them.
    (host.deployment_root / "deployment-logs").mkdir(parents=True)
    result = host.run("--uninstall")
    assert result.returncode == 0, output(result)
    assert not host.venv.exists()
    assert not host.unit.exists()
    assert host.config.exists()
    assert (host.deployment_root / "deployment-logs").is_dir()
    assert host.systemctl_calls() == [f"disable --now {UNIT}", "daemon-reload"]
    result = host.run("--purge")
    assert result.returncode == 0, output(result)
    assert not host.config.parent.exists()
    assert not host.install_dir.exists()


def test_a_bad_token_is_refused_clearly_and_nothing_is_installed(host, project):
    before = host.files()
    result = host.run("--token", "fdr_not-a-real-token")
    assert result.returncode == 1
    text = output(result)
    assert "Registration refused" in text
    assert "The registration token is unknown, expired or revoked" in text
    assert "nothing was installed" in text
    assert host.files() == before
    assert host.systemctl_calls() == []
    assert not Instance.objects.exists()


def test_an_unreachable_server_is_reported_before_anything_changes(host, token):
    before = host.files()
    port = free_port()
    result = host.run("--token", token, "--server", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"cannot reach the Fleetdeck server at http://127.0.0.1:{port}/agent/dist/" in output(result)
    assert host.files() == before


def test_a_first_install_needs_a_token(host):
    result = host.run()
    assert result.returncode == 1
    assert "--token is required" in output(result)


@pytest.mark.parametrize(
    ("python", "message"),
    [
        ("sys.version_info", "the agent needs Python 3.9 or newer, and"),
        ("import venv", "Python's venv module is missing"),
    ],
)
def test_an_unfit_python_is_refused_with_what_to_install(host, tmp_path, token, python, message):
    # Stands in for a host's interpreter: fails the one check under test, passes the others.
    fake = tmp_path / "python3"
    fake.write_text(f'#!/bin/sh\ncase "$*" in *"{python}"*) exit 1 ;; esac\necho "Python 3.8.10"\n')
    fake.chmod(0o755)
    result = host.run("--token", token, FLEETDECK_PYTHON=str(fake))
    assert result.returncode == 1
    assert message in output(result)
    result = host.run("--token", token, FLEETDECK_PYTHON=str(tmp_path / "nowhere" / "python3"))
    assert "not found. The agent needs Python 3.9 or newer" in output(result)


def test_bad_options_are_refused(host):
    assert "--tag takes KEY=VALUE" in output(host.run("--tag", "role"))
    assert "unknown option '--frobnicate'" in output(host.run("--frobnicate"))
    assert "--root must be an absolute path" in output(host.run("--token", "x", "--root", "relative"))
    refused = host.run("--purge", "--root", "/usr")
    assert refused.returncode == 1
    assert "refusing to remove /usr" in output(refused)
    assert host.systemctl_calls() == []


SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with its python3-yaml: what a distribution host has


@pytest.fixture
def server_without_a_fitting_pyyaml(settings, tmp_path, dist_var_dir):
    """The server's wheelhouse minus its PyYAML wheels: how the dist looks to a host whose Python the
    server's PyYAML release does not support (PyYAML 6.0.4 needs 3.10; Amazon Linux 2023 has 3.9)."""
    import json
    import shutil

    from deployments.agent_dist import build

    house = build.wheelhouse()
    settings.VAR_DIR = tmp_path / "var"
    copy = build.dist_root() / house.name
    shutil.copytree(house, copy)
    manifest = json.loads((copy / build.MANIFEST).read_text())
    for name in [n for n in manifest if n.lower().startswith("pyyaml-")]:
        (copy / name).unlink()
        del manifest[name]
    assert manifest and all(not n.lower().startswith("pyyaml") for n in manifest)
    (copy / build.MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.timeout(300)
def test_a_host_the_servers_pyyaml_does_not_fit_uses_its_own(server_without_a_fitting_pyyaml, host, token):
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import yaml, venv, ensurepip"], capture_output=True)
    require(
        probe.returncode == 0, f"{SYSTEM_PYTHON} with PyYAML, venv and ensurepip (python3-yaml, python3-venv)"
    )
    result = host.run("--token", token, "--name", "al2023-like", FLEETDECK_PYTHON=SYSTEM_PYTHON)
    assert result.returncode == 0, output(result)
    assert "the server's PyYAML does not install on Python 3." in output(result)
    assert "using this host's PyYAML" in output(result)
    assert "include-system-site-packages = true" in (host.venv / "pyvenv.cfg").read_text()
    where = subprocess.run(
        [host.venv / "bin" / "python", "-c", "import yaml; print(yaml.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert not where.startswith(str(host.venv)), where  # the system's copy, not one pip installed
    assert agent_version(host).startswith("fleetdeck-agent ")
    assert Instance.objects.filter(name="al2023-like").exists()
    assert "Could not find a version" not in output(result)  # pip's first refusal is not shown


@pytest.mark.timeout(600)  # two real installs
def test_it_points_at_codedeploys_state_and_takes_it_over_with_adopt_codedeploy(host, token):
    cd_group, deployment, fd_group = (
        "8ab4e4a2-5c1f-4d7e-9b11-0c6a3e2f7d90",
        "d-4RS9T0EXA",
        "2f0c9a7e-1b3d-4c5e",
    )
    cd_root = host.root / "opt" / "codedeploy-agent" / "deployment-root"
    archive = cd_root / cd_group / deployment / "deployment-archive"
    archive.mkdir(parents=True)
    (archive / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (cd_root / "deployment-instructions").mkdir()
    (cd_root / "deployment-instructions" / f"{cd_group}-cleanup").write_text(
        "/srv/shop\n/srv/shop/index.html\n"
    )
    (cd_root / "deployment-instructions" / f"{cd_group}_last_successful_install").write_text(
        str(cd_root / cd_group / deployment)
    )

    result = host.run("--token", token, "--name", "web-1")
    assert result.returncode == 0, output(result)
    assert f"found the CodeDeploy agent's state in {cd_root}" in output(result)
    assert "--adopt-codedeploy CODEDEPLOY_GROUP_ID=FLEETDECK_GROUP_ID" in output(result)

    result = host.run("--adopt-codedeploy", f"{cd_group}={fd_group}")
    assert result.returncode == 0, output(result)
    assert f"Adopted CodeDeploy group {cd_group} as Fleetdeck group {fd_group}" in output(result)
    instructions = host.deployment_root / "deployment-instructions"
    assert (instructions / f"{fd_group}-cleanup").read_text() == "/srv/shop\n/srv/shop/index.html\n"
    last = (instructions / f"{fd_group}_last_successful_install").read_text().strip()
    assert last == str(host.deployment_root / fd_group / deployment)
    assert (host.deployment_root / fd_group / deployment / "deployment-archive" / "appspec.yml").exists()


def test_a_malformed_adopt_codedeploy_value_is_refused_before_anything_changes(host):
    result = host.run("--token", "x", "--adopt-codedeploy", "just-a-name")
    assert result.returncode == 1
    assert "--adopt-codedeploy takes CODEDEPLOY_GROUP_ID=FLEETDECK_GROUP_ID (got 'just-a-name')" in output(
        result
    )
    assert not host.install_dir.exists()
