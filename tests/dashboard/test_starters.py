"""Starter bundles: real appspecs, real shell, downloadable as .tgz."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import pytest
from fleetdeck_agent.appspec import parse_appspec

from dashboard.starters import TEMPLATES, build_tgz, files

STARTERS = [t for t in TEMPLATES.values() if t.path is not None]


@pytest.mark.parametrize("template", STARTERS, ids=lambda t: t.key)
def test_each_starter_has_an_appspec_the_agent_parses_and_a_readme(template):
    spec = parse_appspec((template.path / "appspec.yml").read_text())
    assert (template.path / "README.md").is_file()
    hooks = {hook.location for event in spec.hooks.values() for hook in event}
    for location in hooks:
        assert (template.path / location).is_file(), location
    assert {"ApplicationStart", "ApplicationStop", "ValidateService"} <= set(spec.hooks)


@pytest.mark.parametrize("template", STARTERS, ids=lambda t: t.key)
def test_every_hook_script_is_valid_shell(template):
    scripts = [template.path / p for p in files(template) if p.suffix == ".sh"]
    assert scripts
    for script in scripts:
        assert script.read_text().startswith("#!/bin/sh\n")
        result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"


@pytest.mark.parametrize("template", STARTERS, ids=lambda t: t.key)
def test_the_tgz_has_the_appspec_at_its_root_and_executable_scripts(template):
    with tarfile.open(fileobj=io.BytesIO(build_tgz(template))) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert "appspec.yml" in members
    for name, member in members.items():
        assert member.mode == (0o755 if name.endswith(".sh") else 0o644), name


def test_the_agent_runs_the_static_site_starter_hooks_as_real_shell(tmp_path):
    """ValidateService really runs: it probes a port where nothing listens, and fails saying so."""
    # Local mode always installs (as codedeploy-local does): keep the starter's files under tmp_path.
    bundle = tmp_path / "static"
    with tarfile.open(fileobj=io.BytesIO(build_tgz(TEMPLATES["static-nginx"]))) as archive:
        archive.extractall(bundle, filter="data")
    appspec = (bundle / "appspec.yml").read_text()
    for system_path in ("/var/www/fleetdeck-site", "/etc/nginx/conf.d"):
        assert system_path in appspec
        appspec = appspec.replace(system_path, f"{tmp_path}/installed{system_path}")
    (bundle / "appspec.yml").write_text(appspec)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleetdeck_agent",
            "local",
            "--bundle",
            str(bundle),
            "--root",
            str(tmp_path / "root"),
            "--events",
            "DownloadBundle,ValidateService",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PORT": "9"},
    )
    output = result.stdout + result.stderr
    assert "ValidateService: checking http://127.0.0.1:" in output, output
    assert result.returncode != 0


@pytest.mark.django_db
def test_the_wizard_serves_the_starter_as_a_download(client, user):
    client.force_login(user)
    response = client.get("/projects/new/starter/python-systemd.tgz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/gzip"
    assert 'filename="python-systemd.tgz"' in response["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(response.content)) as archive:
        assert "scripts/start_service.sh" in archive.getnames()
    assert client.get("/projects/new/starter/blank.tgz").status_code == 404
    assert client.get("/projects/new/starter/nope.tgz").status_code == 404
