"""The import contracts of pyproject.toml ([tool.importlinter]; docs/architecture.md explains them).

The first test checks the tree as it is, so a new import cycle between the apps, an app importing
config/, or the agent importing the server fails CI. The others plant one forbidden import in a copy
of the tree and check that the contract it breaks is reported, so the check itself can fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "config": ROOT / "config",
    "core": ROOT / "core",
    "projects": ROOT / "projects",
    "deployments": ROOT / "deployments",
    "integrations": ROOT / "integrations",
    "dashboard": ROOT / "dashboard",
    "fleetdeck_agent": ROOT / "agent" / "fleetdeck_agent",
    "fleetdeck_cli": ROOT / "agent" / "fleetdeck_cli",
}


def lint_imports(cwd: Path, *, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)  # before site-packages: the copies, not the installed tree
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "0 broken" in output, output[-4000:]


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    for name, source in PACKAGES.items():
        shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.mark.parametrize(
    ("module", "code", "broken"),
    [
        # The engine reaching an integration directly instead of through deployments.integration_points.
        ("deployments/_planted.py", "import integrations.models\n", "The apps depend one way"),
        # An in-function import counts as much as one at the top: no more dodging a cycle that way.
        (
            "integrations/_planted.py",
            "def tile():\n    from dashboard import tiles\n\n    return tiles\n",
            "The apps depend one way",
        ),
        ("projects/_planted.py", "from deployments.models import Deployment\n", "The apps depend one way"),
        ("core/_planted.py", "from config import settings\n", "config/ is the composition root"),
        ("fleetdeck_agent/_planted.py", "import django\n", "The agent and the CLI never import"),
        ("integrations/jira/_planted.py", "from integrations.github import client\n", "Each outside system"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tree_copy, module, code, broken):
    planted = tree_copy / module
    planted.write_text(code)
    try:
        result = lint_imports(tree_copy, pythonpath=tree_copy)
    finally:
        planted.unlink()
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-4000:]
    assert "1 broken" in output, output[-4000:]
    broken_lines = [line for line in output.splitlines() if line.endswith("BROKEN")]
    assert broken_lines, output[-4000:]
    assert broken in output.split("Broken contracts")[-1], output[-4000:]
    assert module.removesuffix(".py").replace("/", ".") in output, output[-4000:]
