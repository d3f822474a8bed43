"""An agent's deployment root fills up: its events fail with a clear error, the agent lives on, and
once space is freed the next deployment succeeds. The root is a 2 MB tmpfs the test mounts (as root)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import tarfile

import pytest
from e2e_harness import recording_bundle
from fleetdeck_testing import require
from test_in_place_rollout import Rollout, by_host

PAYLOAD = 700_000  # random bytes: the bundle stays this big compressed, and twice it fits in 2 MB


def _fill(path, leave: int = 0) -> None:
    """Write zeros until only `leave` bytes are free, or until the filesystem says no."""
    with open(path, "ab") as fh:
        try:
            while True:
                free = os.statvfs(path).f_bavail * os.statvfs(path).f_frsize
                if free <= leave:
                    return
                fh.write(b"\0" * min(65536, max(free - leave, 4096)))
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


def _big_bundle(r: Rollout, label: str):
    """The recording bundle plus a payload that cannot fit in what is left of the disk."""
    small = recording_bundle(r.tmp / f"{label}-small.tgz", label=label, record=r.record, ctl=r.ctl)
    path = r.tmp / f"{label}.tgz"
    payload = r.tmp / "payload.bin"
    payload.write_bytes(os.urandom(PAYLOAD))
    with tarfile.open(small, "r:gz") as src, tarfile.open(path, "w:gz") as out:
        for member in src.getmembers():
            out.addfile(member, src.extractfile(member))
        out.add(payload, arcname="payload.bin")
    return r.api.upload(r.app, path, description=label)["id"]


@pytest.fixture
def small_root(fleet):
    """The first agent's root, as a tmpfs; unmounted (lazily, if something still holds it) after."""
    root = fleet.base / "agents" / f"host-1-{fleet.tag}" / "root"
    root.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "fleetdeck-fault-tmpfs", str(root)], capture_output=True
    )
    require(mounted.returncode == 0, f"mount -t tmpfs (needs root): {mounted.stderr.decode().strip()}")
    yield root
    fleet.stop_all()
    with contextlib.suppress(subprocess.SubprocessError):
        subprocess.run(["umount", "-l", str(root)], check=True, capture_output=True, timeout=30)


def test_a_full_disk_fails_events_clearly_the_agent_lives_on_and_a_later_deployment_succeeds(
    fleet, small_root, tmp_path
):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.AllAtOnce", hosts=["host-1"])
    (host,) = r.hosts
    agent = fleet.agents[host]
    assert agent.root == small_root
    revision = _big_bundle(r, "v1")
    filler = small_root / "filler"

    # Nearly full: the agent's own small files fit, the bundle does not.
    _fill(filler, leave=300_000)
    nearly = r.api.wait(r.deploy(revision), timeout=60)

    assert nearly["status"] == "Failed", nearly
    events = {e["name"]: e for e in by_host(nearly)[host]["lifecycle_events"]}
    assert events["ApplicationStop"]["status"] == "Skipped"
    download = events["DownloadBundle"]
    assert download["status"] == "Failed", events
    message = download["diagnostics"]["message"]
    assert "No space left on device while writing" in message
    assert f"free space under {small_root} and retry" in message
    assert events["BeforeInstall"]["status"] == "Skipped"
    assert not r.records(nearly["id"])  # no hook ran
    assert [p.name for p in small_root.rglob("bundle*")] == []  # the partial download is gone

    # Completely full: not even the agent's own records fit. The event fails; the agent stays up.
    _fill(filler)
    full = r.api.wait(r.deploy(revision), timeout=60)

    assert full["status"] == "Failed", full
    failed = [e for e in by_host(full)[host]["lifecycle_events"] if e["status"] == "Failed"]
    assert len(failed) == 1, failed
    assert "No space left on device" in failed[0]["diagnostics"]["message"]
    assert failed[0]["diagnostics"]["error_code"] != "AGENT_ISSUE"  # the agent said so itself
    assert agent.proc.poll() is None, agent.log.read_text()[-3000:]

    filler.unlink()
    later = r.api.wait(r.deploy(revision), timeout=60)

    assert later["status"] == "Succeeded", later
    assert {e["status"] for e in by_host(later)[host]["lifecycle_events"][1:]} == {"Succeeded"}
    ran = [rec.event for rec in r.records(later["id"]) if rec.phase == "end"]
    assert ran == ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
    assert agent.proc.poll() is None
