"""Fixtures for the agent conformance suite: real files, real archives, real processes.

Nothing here needs Django or a database; every test works under its own tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from agent_helpers import _info, archive_tree, write_tree
from fleetdeck_agent.executor import ExecutorOptions, execute
from fleetdeck_agent.paths import DeploymentRoot


@pytest.fixture
def tar_info():
    return _info


@pytest.fixture
def root(tmp_path) -> DeploymentRoot:
    return DeploymentRoot(str(tmp_path / "deployment-root")).ensure()


@pytest.fixture
def make_revision(tmp_path):
    """A revision directory with an appspec and scripts; returns its path."""
    counter = iter(range(1000))

    def make(appspec: str, files: dict | None = None, name: str | None = None) -> Path:
        base = tmp_path / (name or f"revision-{next(counter)}")
        write_tree(base, {"appspec.yml": appspec, **(files or {})})
        return base

    return make


@pytest.fixture
def make_bundle(tmp_path):
    counter = iter(range(1000))

    def make(src: Path, kind: str = "tgz", top: str = "") -> Path:
        return archive_tree(src, tmp_path / f"bundle-{next(counter)}.{kind}", kind, top)

    return make


@pytest.fixture
def command():
    """Build a protocol command dict; each call is one lifecycle event."""

    def build(
        event: str,
        bundle: Path | str = "",
        deployment_id: str = "d-TEST00001",
        group_id: str = "dg-1",
        **extra,
    ) -> dict:
        kind = "directory" if bundle and os.path.isdir(bundle) else None
        data = {
            "id": f"cmd-{deployment_id}-{event}",
            "deployment_id": deployment_id,
            "lifecycle_event": event,
            "application_name": "shop",
            "deployment_group_name": "web",
            "deployment_group_id": group_id,
            "deployment_creator": "user",
            "revision": {
                "id": 1,
                "source": "local",
                "bundle_type": kind,
                "url": str(bundle),
                "sha256": None,
                "env": {},
            },
            "file_exists_behavior": "DISALLOW",
            "ignore_application_stop_failures": False,
            "mark_successful": False,
        }
        data.update(extra)
        return data

    return build


@pytest.fixture
def run_events(root, command):
    """Run events of one deployment through the shared executor; return {event: completion}."""

    def run(
        bundle, events, deployment_id="d-TEST00001", options=None, on_lines=None, mark_last=True, **extra
    ):
        results = {}
        options = options or ExecutorOptions(kill_grace=0.5, drain_seconds=1.0)
        for index, event in enumerate(events):
            cmd = command(
                event, bundle, deployment_id, mark_successful=mark_last and index == len(events) - 1, **extra
            )
            results[event] = execute(cmd, root, on_lines, options)
            if results[event]["status"] == "Failed":
                break
        return results

    return run


FULL_LIFECYCLE = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
]


@pytest.fixture
def lifecycle():
    return list(FULL_LIFECYCLE)


@pytest.fixture
def fake_server():
    from fake_agent_api import FakeAgentApi

    api = FakeAgentApi().start()
    yield api
    api.stop()
    assert api.repeated() == {"completions": [], "log_lines": []}, "the agent sent something twice"


@pytest.fixture
def make_user():
    """Create throwaway users (root and useradd needed; a failure in CI, a skip on a laptop)."""
    import shutil
    import subprocess
    import uuid

    from fleetdeck_testing import require

    require(os.geteuid() == 0, "running as root (to create users and change owners)")
    require(shutil.which("useradd") is not None, "useradd")
    made = []

    def make() -> str:
        name = f"fdt{uuid.uuid4().hex[:8]}"
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
        made.append(name)
        return name

    yield make
    for name in made:
        subprocess.run(["userdel", name], check=False)
