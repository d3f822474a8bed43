"""Both distributions (the server and the agent) declare their licence as an SPDX string, and build
without setuptools' deprecation warning for the old `project.license` table."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("project", [".", "agent"])
def test_the_licence_is_an_spdx_string(project):
    with open(ROOT / project / "pyproject.toml", "rb") as fh:
        assert tomllib.load(fh)["project"]["license"] == "Apache-2.0"


@pytest.mark.parametrize("project", [".", "agent"])
def test_the_wheel_builds_without_a_deprecation_warning(project, tmp_path):
    # The server's own setuptools, as the agent's wheelhouse (/agent/dist/) is built: no index needed.
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v"]
    result = subprocess.run(
        [*pip_wheel, "-w", str(tmp_path), str(ROOT / project)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "deprecated" not in output.lower(), [line for line in output.splitlines() if "eprecat" in line]
    assert list(tmp_path.glob("*.whl"))
