"""Retention with real agents: `manage.py cleanup` (a real process) during a live rollout changes nothing
about it, and a rollback after older bundles were pruned still finds its revision and succeeds."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from test_in_place_rollout import AGENT_EVENTS, HOSTS, Rollout, by_host
from test_safety_nets import configure, wait_for_rollback

from deployments.models import Deployment, DeploymentEvent, Revision

ROOT = Path(__file__).resolve().parents[2]


def cleanup(stack, **policy: str) -> str:
    """Run `manage.py cleanup` against the live stack's database and storage, as an operator would."""
    env = {**os.environ, **stack.env, "DJANGO_SETTINGS_MODULE": "config.settings", **policy}
    done = subprocess.run(
        [sys.executable, "manage.py", "cleanup"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def age(app: str, days: int) -> None:
    at = timezone.now() - timedelta(days=days)
    Deployment.objects.filter(application__name=app).update(created_at=at, started_at=at, ended_at=at)


def test_a_cleanup_during_a_live_rollout_changes_nothing_about_it(live_stack, fleet, tmp_path):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=HOSTS[:3])
    # A year of history for every rule to work on: two successes, a failure, revisions never deployed.
    for label in ("v1", "v2"):
        assert r.api.wait(r.deploy(r.revision(label)))["status"] == "Succeeded"
    (r.ctl / "v3.AfterInstall.fail").write_text("")
    failed = r.deploy(r.revision("v3"))
    assert r.api.wait(failed, timeout=90)["status"] == "Failed"
    records_before = [rec for rec in r.records(failed) if rec.phase == "start"]
    age(r.app, 400)
    # The live rollout: each host sleeps in BeforeInstall, so the cleanup runs while hosts work.
    for index in range(3):
        r.control(index, "BeforeInstall", "sleep", "4")
    live_revision = r.revision("v6")
    live = r.deploy(live_revision)
    # Uploaded after it, so the live revision is not simply one of the newest that are always kept.
    unused = [r.revision(label) for label in ("v7", "v8")]
    r.api.wait(
        live,
        until=lambda d: any(
            e["name"] == "BeforeInstall" and e["status"] == "InProgress"
            for t in d["targets"]
            for e in t["lifecycle_events"]
        ),
    )

    out = cleanup(
        live_stack,
        FLEETDECK_LOG_RETENTION_DAYS="1",
        FLEETDECK_DEPLOYMENT_RETENTION_DAYS="1",
        FLEETDECK_KEEP_REVISIONS="1",
    )
    during = r.api.get(f"/api/v1/deployments/{live}/")["status"]
    detail = r.api.wait(live, timeout=120)

    # The cleanup really worked, while the rollout ran ...
    assert during == "InProgress", out
    assert "Deleted 1 deployments finished over 1 days ago" in out, out
    assert "Deleted the logs of 2 deployments" in out, out
    assert "Deleted 2 bundles" in out, out  # v3 and v7: v1, v2 and v6 are needed, v8 is the newest
    assert not Deployment.objects.filter(pk=failed).exists()
    assert [bool(Revision.objects.get(pk=pk).bundle_pruned_at) for pk in unused] == [True, False]
    # ... and changed nothing about it: every host ran every hook of v6 and succeeded, its bundle is
    # still stored, and its event log is whole: every sequence number, every line of every hook.
    assert detail["status"] == "Succeeded", detail
    assert detail["log_expired_at"] is None
    # ApplicationStop runs the stop script of what is installed: v3 where v3's Install succeeded before
    # its AfterInstall failed (CodeDeploy records the last successful install at Install), else v2.
    installed = {rec.host for rec in records_before if rec.event == "AfterInstall"}
    assert len(installed) == 1, installed
    stopped = {host: "v3" if host in installed else "v2" for host in r.hosts}
    for host, target in by_host(detail).items():
        assert target["status"] == "Succeeded"
        assert {e["status"] for e in target["lifecycle_events"]} == {"Succeeded"}
        ran = [(rec.event, rec.label) for rec in r.records(live) if rec.host == host and rec.phase == "end"]
        assert ran == [("ApplicationStop", stopped[host]), *((event, "v6") for event in AGENT_EVENTS[1:])]
    assert Revision.objects.get(pk=live_revision).bundle_pruned_at is None
    row = Deployment.objects.get(pk=live)
    seqs = list(DeploymentEvent.objects.filter(deployment=row).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, row.event_seq + 1))
    lines = DeploymentEvent.objects.filter(deployment=row, kind="log")
    for host in r.hosts:
        for event in AGENT_EVENTS:
            label = stopped[host] if event == "ApplicationStop" else "v6"
            texts = list(lines.filter(instance=host, event=event).values_list("message", flat=True))
            assert f"{label} {event} on {host}: first line" in texts, (host, event, texts)
            assert f"{label} {event} on {host}: second line" in texts, (host, event, texts)


def test_a_rollback_after_older_bundles_were_pruned_finds_its_revision_and_succeeds(
    live_stack, fleet, tmp_path
):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.AllAtOnce", hosts=HOSTS[:2])
    configure(r, auto_rollback_events=["DEPLOYMENT_FAILURE"])
    for label in ("v1", "v2"):
        assert r.api.wait(r.deploy(r.revision(label)))["status"] == "Succeeded"
    never_deployed = [r.revision(label) for label in ("v3", "v4")]
    bad_revision = r.revision("v5")

    out = cleanup(live_stack, FLEETDECK_KEEP_REVISIONS="1")

    assert "Deleted 2 bundles" in out, out
    refused = r.api.post(
        "/api/v1/deployments/",
        {"application": r.app, "deployment_group": "web", "revision": never_deployed[0]},
        expected=400,
    )
    assert refused["error_code"] == "REVISION_MISSING"
    (r.ctl / "v5.AfterInstall.fail").write_text("")
    bad = r.deploy(bad_revision)
    rollback = wait_for_rollback(r.api, bad, timeout=90)

    assert r.api.get(f"/api/v1/deployments/{bad}/")["status"] == "Failed"
    assert rollback["status"] == "Succeeded", rollback
    assert rollback["creator"] == "codeDeployRollback"
    assert Revision.objects.get(pk=rollback["revision"]).description == "v2"
    for host in r.hosts:
        ran = [(rec.event, rec.label) for rec in r.records(rollback["id"]) if rec.host == host]
        assert ("ValidateService", "v2") in ran
