"""`fleetdeck-agent register` run again on a host (what `install.sh --token` does on a re-install or an
upgrade) presents the credential in its config and keeps the host's identity; another host cannot
take the name over. Real agent processes against a live server."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from deployments.models import Instance, RegistrationToken


def register(server: str, token: str, config, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDECK_")}
    env.update(FLEETDECK_AGENT_EC2_METADATA="0", FLEETDECK_REGISTRATION_TOKEN=token)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "fleetdeck_agent",
            "register",
            "--server",
            server,
            "--config",
            str(config),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_registering_again_keeps_the_hosts_identity_and_another_host_cannot_take_its_name(
    live_server, tmp_path, token
):
    config = tmp_path / "host-a" / "config.yml"
    first = register(live_server.url, token, config, "--name", "web-1")
    assert first.returncode == 0, first.stderr
    credential = yaml.safe_load(config.read_text())["credential"]
    instance = Instance.objects.get()

    again = register(live_server.url, token, config, "--name", "web-1", "--tag", "zone=a")
    assert again.returncode == 0, again.stderr
    assert Instance.objects.get().pk == instance.pk
    assert yaml.safe_load(config.read_text())["credential"] == credential
    assert Instance.authenticate(credential).tags == {"role": "web", "zone": "a"}
    assert RegistrationToken.objects.get().uses == 1

    # Another host (no config, so no credential) naming web-1 is refused, and web-1 keeps working.
    other = tmp_path / "host-b" / "config.yml"
    stolen = register(live_server.url, token, other, "--name", "web-1")
    assert stolen.returncode == 1
    assert "409" in stolen.stderr and "deregister web-1 first" in stolen.stderr
    assert not other.exists()
    assert Instance.authenticate(credential).pk == instance.pk


def test_a_config_written_for_another_server_is_not_presented(live_server, tmp_path, token):
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"server": "http://elsewhere.invalid", "credential": "fdi_elsewhere"}))
    result = register(live_server.url, token, config, "--name", "web-1")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(config.read_text())["server"] == live_server.url
    assert Instance.objects.get().name == "web-1"
