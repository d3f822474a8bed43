"""A pretend host for the install script: every path it writes lives under one directory, and
`systemctl` is a stub on PATH that records its calls (the only fake: there is no systemd here)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

SYSTEMCTL_STUB = """#!/bin/sh
printf '%s\\n' "$*" >> "$SYSTEMCTL_CALLS"
exit 0
"""


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - the test's own server
        return response.read()


class Host:
    def __init__(self, tmp_path: Path, server: str):
        self.server = server
        self.root = tmp_path / "host"
        # What any systemd host has already.
        (self.root / "etc" / "systemd" / "system").mkdir(parents=True)
        (self.root / "opt").mkdir()
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.calls_file = tmp_path / "systemctl.calls"
        stub = self.bin / "systemctl"
        stub.write_text(SYSTEMCTL_STUB)
        stub.chmod(0o755)
        self.script = fetch(server + "/agent/install.sh")

    install_dir = property(lambda self: self.root / "opt" / "fleetdeck-agent")
    venv = property(lambda self: self.install_dir / "venv")
    deployment_root = property(lambda self: self.install_dir / "deployment-root")
    config = property(lambda self: self.root / "etc" / "fleetdeck-agent" / "config.yml")
    unit = property(lambda self: self.root / "etc" / "systemd" / "system" / "fleetdeck-agent.service")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDECK_")}
        env.update(
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
            SYSTEMCTL_CALLS=str(self.calls_file),
            FLEETDECK_INSTALL_ROOT=str(self.root),
            FLEETDECK_PYTHON=sys.executable,
            FLEETDECK_AGENT_EC2_METADATA="0",  # no instance-metadata lookup from a test
        )
        env.update(extra)
        return env

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """`curl -fsSL <server>/agent/install.sh | sh -s -- ARGS`, the script read from stdin."""
        return subprocess.run(
            ["sh", "-s", "--", *args],
            input=self.script,
            env=self.env(**env),
            capture_output=True,
            timeout=240,
        )

    def systemctl_calls(self) -> list[str]:
        calls = self.calls_file.read_text().splitlines() if self.calls_file.exists() else []
        self.calls_file.unlink(missing_ok=True)
        return calls

    def files(self) -> list[str]:
        """Everything under the host root, for "nothing was left behind" checks."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*"))


def output(result: subprocess.CompletedProcess) -> str:
    return (result.stdout + result.stderr).decode()
