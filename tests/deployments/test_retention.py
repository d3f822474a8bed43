"""Retention (deployments/retention.py): what the cleanup deletes, what it never deletes, and --dry-run.

Deployments are driven through the engine as agents would (Celery eager), then aged by moving their
timestamps back; bundles are real files in a temporary storage directory.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from factories import (
    ALL_AT_ONCE,
    deploy,
    finish_host,
    make_app,
    make_group,
    make_instance,
    make_revision,
    refresh,
)

from deployments import engine, eventlog, retention
from deployments.models import (
    Creator,
    Deployment,
    DeploymentEvent,
    DeploymentTarget,
    HostCommand,
    InstanceGroupState,
    LifecycleEvent,
    Revision,
)
from deployments.rollout import rollback

pytestmark = pytest.mark.django_db(transaction=True)

_n = itertools.count(1)


@pytest.fixture(autouse=True)
def policy(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LOG_RETENTION_DAYS = 90
    settings.DEPLOYMENT_RETENTION_DAYS = None
    settings.KEEP_REVISIONS = 20
    return settings


@pytest.fixture
def fleet():
    app = make_app()
    group = make_group(app, config=ALL_AT_ONCE)
    host = make_instance("web-1", role="web")
    return app, group, host


def stored(app, label: str = "") -> Revision:
    """A revision whose bundle the server stores (an upload, or a GitHub archive it fetched)."""
    data = f"PK\x03\x04 bundle {label or next(_n)} ".encode() * 50
    revision = make_revision(app, sha256=hashlib.sha256(data).hexdigest(), size=len(data), description=label)
    revision.bundle.save("bundle.zip", ContentFile(data))
    return revision


def add_log(deployment: Deployment, lines: int = 3) -> None:
    """Hook output for every command of the deployment, as the agent API stores it."""
    for command in HostCommand.objects.filter(deployment=deployment).select_related(
        "lifecycle_event", "instance"
    ):
        with transaction.atomic():
            eventlog.append(
                deployment.pk,
                [
                    eventlog.entry(
                        "log",
                        instance=command.instance.name,
                        event=command.lifecycle_event.name,
                        message=f"line {i} of {command.lifecycle_event.name}",
                        stream="stdout",
                    )
                    for i in range(lines)
                ],
            )


def finished(group, revision, host, outcome: str = "Succeeded", days_ago: float = 0) -> Deployment:
    """A deployment run to its end on one host, with a log, then aged `days_ago` days."""
    deployment = deploy(group, revision)
    finish_host(host, outcome, deployment=deployment)
    add_log(deployment)
    age(deployment, days_ago)
    return refresh(deployment)


def age(deployment: Deployment, days: float) -> None:
    at = timezone.now() - timedelta(days=days)
    Deployment.objects.filter(pk=deployment.pk).update(created_at=at, started_at=at, ended_at=at)


def logs(deployment: Deployment) -> int:
    return DeploymentEvent.objects.filter(deployment=deployment, kind="log").count()


def state_rows(deployment: Deployment) -> list[tuple]:
    return list(
        DeploymentEvent.objects.filter(deployment=deployment)
        .exclude(kind="log")
        .order_by("seq")
        .values_list("seq", "kind", "instance", "event", "status", "error_code", "message")
    )


def pruned(revision: Revision) -> bool:
    revision = Revision.objects.get(pk=revision.pk)
    return revision.bundle_pruned_at is not None and not revision.bundle


def file_exists(revision: Revision) -> bool:
    return revision.bundle.storage.exists(revision.bundle.name)


# --- logs ------------------------------------------------------------------------------------


def test_an_old_finished_deployment_loses_its_log_lines_and_keeps_the_rest_of_its_record(fleet):
    app, group, host = fleet
    old = finished(group, make_revision(app), host, "Failed", days_ago=91)
    recent = finished(group, make_revision(app), host, days_ago=89)
    failed = LifecycleEvent.objects.get(target__deployment=old, status="Failed")
    LifecycleEvent.objects.filter(pk=failed.pk).update(log_tail="last words of the script\n")
    before = state_rows(old), list(DeploymentTarget.objects.filter(deployment=old).values_list("status"))
    lines = logs(old)
    assert lines > 0

    report = retention.cleanup()

    assert logs(old) == 0
    assert (
        state_rows(old),
        list(DeploymentTarget.objects.filter(deployment=old).values_list("status")),
    ) == before
    failed.refresh_from_db()
    assert failed.status == "Failed"
    assert failed.error_code == "ScriptFailed"
    assert failed.log_tail == "last words of the script\n"
    old.refresh_from_db()
    assert old.status == "Failed"
    assert old.error_code == "HEALTH_CONSTRAINTS"
    assert old.log_expired_at is not None
    assert logs(recent) > 0
    assert refresh(recent).log_expired_at is None
    assert (report.expired_logs, report.log_lines) == (1, lines)
    assert report.log_bytes > lines * len("line 0 of ApplicationStop")


def test_a_deployment_still_running_keeps_its_log_however_old_it_is(fleet):
    app, group, _host = fleet
    running = deploy(group, make_revision(app))
    add_log(running)
    Deployment.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(days=400))

    retention.cleanup()

    assert logs(running) > 0
    assert refresh(running).log_expired_at is None


def test_log_retention_never_keeps_every_log(fleet, policy):
    policy.LOG_RETENTION_DAYS = None
    app, group, host = fleet
    old = finished(group, make_revision(app), host, days_ago=3000)

    report = retention.cleanup()

    assert logs(old) > 0
    assert report.expired_logs == 0
    assert "Logs: kept" in "\n".join(report.lines())


def test_logs_expire_in_small_batches_until_none_is_left(fleet):
    app, group, host = fleet
    old = [finished(group, make_revision(app), host, days_ago=200 - i) for i in range(5)]

    report = retention.cleanup(batch=2, chunk=3)

    assert report.expired_logs == 5
    assert not DeploymentEvent.objects.filter(kind="log").exists()
    assert all(refresh(d).log_expired_at for d in old)


# --- whole deployments -----------------------------------------------------------------------


def test_without_a_deployment_retention_no_deployment_is_deleted(fleet):
    app, group, host = fleet
    finished(group, make_revision(app), host, days_ago=5000)
    finished(group, make_revision(app), host, days_ago=4000)

    report = retention.cleanup()

    assert Deployment.objects.count() == 2
    assert report.deployments == 0


def test_old_deployments_are_deleted_with_their_rows_except_what_rollback_and_the_group_need(fleet, policy):
    policy.DEPLOYMENT_RETENTION_DAYS = 30
    app, group, host = fleet
    r1, r2, r3 = make_revision(app), make_revision(app), make_revision(app)
    d1 = finished(group, r1, host, days_ago=400)
    d2 = finished(group, r2, host, days_ago=300)  # the last success of a revision other than r3
    d3 = finished(group, r2, host, "Failed", days_ago=250)
    d4 = finished(group, r3, host, days_ago=200)  # the group's last successful deployment
    d5 = finished(group, r3, host, "Failed", days_ago=100)  # the group's most recent deployment
    Deployment.objects.filter(pk=d4.pk).update(rollback_of=d3)
    other = make_instance("web-2", role="other")
    InstanceGroupState.objects.create(instance=other, group=group, last_deployment=d3, last_status="Failed")
    gone = [d1, d3]
    rows = sum(
        DeploymentEvent.objects.filter(deployment=d).count()
        + DeploymentTarget.objects.filter(deployment=d).count()
        + LifecycleEvent.objects.filter(target__deployment=d).count()
        + HostCommand.objects.filter(deployment=d).count()
        for d in gone
    )

    report = retention.cleanup()

    assert set(Deployment.objects.values_list("pk", flat=True)) == {d2.pk, d4.pk, d5.pk}
    for d in gone:
        assert not DeploymentEvent.objects.filter(deployment_id=d.pk).exists()
        assert not DeploymentTarget.objects.filter(deployment_id=d.pk).exists()
        assert not HostCommand.objects.filter(deployment_id=d.pk).exists()
        assert not LifecycleEvent.objects.filter(target__deployment_id=d.pk).exists()
    assert refresh(d4).rollback_of is None
    assert InstanceGroupState.objects.get(instance=other).last_deployment is None
    assert Revision.objects.filter(pk__in=[r1.pk, r2.pk, r3.pk]).count() == 3  # revisions are kept
    assert (report.deployments, report.deployment_rows) == (2, rows)
    assert report.deployment_bytes > 0
    # What stays is whole: the kept deployments' logs are handled by the log rule alone (all > 90 days).
    assert all(refresh(d).log_expired_at for d in (d2, d4, d5))
    assert state_rows(d4)


def test_recent_and_unfinished_deployments_are_never_deleted(fleet, policy):
    policy.DEPLOYMENT_RETENTION_DAYS = 30
    app, group, host = fleet
    finished(group, make_revision(app), host, "Failed", days_ago=400)
    recent = finished(group, make_revision(app), host, days_ago=20)
    running = deploy(group, make_revision(app))
    Deployment.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(days=400))

    retention.cleanup()

    assert set(Deployment.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}


# --- bundles ---------------------------------------------------------------------------------


def test_bundles_past_the_newest_keep_revisions_of_each_application_are_deleted_from_storage(policy):
    policy.KEEP_REVISIONS = 2
    app, other_app = make_app("shop"), make_app("blog")
    revisions = [stored(app, f"v{i}") for i in range(1, 6)]
    others = [stored(other_app, f"b{i}") for i in range(1, 3)]
    s3 = make_revision(app, source="s3", location={"bucket": "b", "key": "k.zip"})
    old = revisions[:3]
    names = [r.bundle.name for r in old]
    size = sum(r.size for r in old)

    report = retention.cleanup()

    assert [pruned(r) for r in revisions] == [True, True, True, False, False]
    assert not any(Revision.objects.get(pk=r.pk).bundle_pruned_at for r in [*others, s3])
    assert not any(revisions[0].bundle.storage.exists(name) for name in names)
    assert all(file_exists(r) for r in [*revisions[3:], *others])
    # The rows stay, with their checksum and size, as the record of what was deployed.
    assert Revision.objects.get(pk=old[0].pk).sha256 == old[0].sha256
    assert (report.bundles, report.bundle_bytes) == (3, size)


def test_a_revision_a_running_or_queued_deployment_uses_keeps_its_bundle(fleet, policy):
    policy.KEEP_REVISIONS = 1
    app, group, _host = fleet
    running_revision, queued_revision = stored(app), stored(app)
    running = deploy(group, running_revision)
    queued = deploy(group, queued_revision)
    latest = deploy(group, make_revision(app))  # so neither of the two is the group's latest
    assert (running.status, queued.status, latest.status) == ("InProgress", "Queued", "Queued")
    stored(app)  # the newest
    Deployment.objects.update(created_at=timezone.now() - timedelta(days=365))

    report = retention.cleanup()

    assert not pruned(running_revision) and file_exists(running_revision)
    assert not pruned(queued_revision) and file_exists(queued_revision)
    assert report.kept_bundles == 2


def test_the_last_successful_revision_of_a_group_keeps_its_bundle(fleet, policy):
    policy.KEEP_REVISIONS = 1
    app, group, host = fleet
    good = stored(app)
    finished(group, good, host, days_ago=300)
    finished(group, stored(app), host, "Failed", days_ago=200)
    stored(app)

    retention.cleanup()

    assert not pruned(good) and file_exists(good)


def test_the_revision_of_a_groups_most_recent_deployment_keeps_its_bundle(fleet, policy):
    policy.KEEP_REVISIONS = 1
    app, group, host = fleet
    finished(group, stored(app), host, days_ago=300)
    latest = stored(app)
    finished(group, latest, host, "Failed", days_ago=200)
    stored(app)

    retention.cleanup()

    assert not pruned(latest) and file_exists(latest)


def test_the_revision_rollback_would_use_after_a_failed_redeploy_of_the_last_good_one_is_kept(fleet, policy):
    policy.KEEP_REVISIONS = 1
    app, group, host = fleet
    earlier, last_good = stored(app), stored(app)
    finished(group, earlier, host, days_ago=300)
    finished(group, last_good, host, days_ago=200)
    middle = stored(app)  # never deployed
    stored(app)

    retention.cleanup()

    assert not pruned(earlier) and not pruned(last_good)
    assert pruned(middle)


def test_revisions_without_a_stored_bundle_are_left_alone(policy):
    policy.KEEP_REVISIONS = 1
    app = make_app()
    s3 = [make_revision(app, source="s3", location={"bucket": "b", "key": f"{i}.zip"}) for i in range(3)]

    report = retention.cleanup()

    assert report.bundles == 0
    assert not Revision.objects.filter(pk__in=[r.pk for r in s3], bundle_pruned_at__isnull=False).exists()


def test_a_pruned_revision_is_refused_at_creation_with_revision_missing(fleet, policy, api_client, user):
    from projects.models import Membership, Project

    policy.KEEP_REVISIONS = 1
    app, group, _host = fleet
    project = Project.objects.create(name="Shop", slug="shop")
    Membership.objects.create(project=project, user=user, role="owner")
    app.project = project
    app.save()
    old = stored(app)
    stored(app)
    retention.cleanup()
    assert pruned(old)

    with pytest.raises(engine.DeploymentError) as refused:
        engine.create_deployment(group=group, revision=old)
    assert refused.value.code == "REVISION_MISSING"
    response = api_client.post(
        "/api/v1/deployments/",
        {"application": app.name, "deployment_group": group.name, "revision": old.pk},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "REVISION_MISSING"
    assert f"revision r{old.pk}" in body["errors"]["revision"][0]
    assert "Upload the revision again" in body["detail"]
    assert not Deployment.objects.exists()


def test_a_bundle_is_kept_if_a_deployment_started_using_it_after_the_cleanup_listed_it(fleet, policy):
    """prune_bundle checks the rules again under the revision's lock: a deployment created between
    the cleanup's listing and its delete keeps the bundle."""
    app, group, _host = fleet
    revision = stored(app)
    deploy(group, revision)

    assert retention.prune_bundle(revision.pk) is None
    assert not pruned(revision) and file_exists(revision)


# --- rollback after pruning --------------------------------------------------------------------


def test_a_rollback_after_older_bundles_were_pruned_finds_its_revision_and_succeeds(fleet, policy):
    policy.KEEP_REVISIONS = 1
    app, group, host = fleet
    group.auto_rollback_events = [rollback.ON_FAILURE]
    group.save()
    first, good = stored(app), stored(app)
    finished(group, first, host, days_ago=30)
    finished(group, good, host, days_ago=20)
    unused = [stored(app) for _ in range(3)]
    retention.cleanup()
    assert [pruned(r) for r in unused] == [True, True, False]

    bad = deploy(group, unused[-1])
    finish_host(host, "Failed", deployment=bad)
    again = refresh(bad).rolled_back_by
    assert again.creator == Creator.ROLLBACK
    assert again.revision_id == good.pk
    finish_host(host, deployment=again)

    assert refresh(again).status == "Succeeded"
    assert file_exists(good)


# --- dry run, the command and the beat task ----------------------------------------------------


def _world(policy, fleet):
    """Something for each of the three rules to delete."""
    policy.KEEP_REVISIONS = 1
    policy.DEPLOYMENT_RETENTION_DAYS = 300
    app, group, host = fleet
    finished(group, stored(app), host, days_ago=400)  # deleted whole
    finished(group, stored(app), host, "Failed", days_ago=350)  # deleted whole
    finished(group, stored(app), host, days_ago=200)  # log expires; kept as the last success
    finished(group, stored(app), host, days_ago=100)  # log expires
    for _ in range(3):
        stored(app)


def _everything() -> tuple:
    return (
        list(Deployment.objects.order_by("pk").values_list("pk", "log_expired_at")),
        DeploymentEvent.objects.count(),
        list(Revision.objects.order_by("pk").values_list("pk", "bundle", "bundle_pruned_at")),
        sorted(
            r.bundle.name
            for r in Revision.objects.exclude(bundle="")
            if r.bundle.storage.exists(r.bundle.name)
        ),
    )


def test_a_dry_run_deletes_nothing_and_reports_what_the_real_run_then_deletes(fleet, policy):
    _world(policy, fleet)
    before = _everything()

    dry = retention.cleanup(dry_run=True)

    assert _everything() == before
    real = retention.cleanup()
    fields = (
        "expired_logs",
        "log_lines",
        "log_bytes",
        "deployments",
        "deployment_rows",
        "deployment_bytes",
        "bundles",
        "bundle_bytes",
        "kept_bundles",
    )
    assert {f: getattr(dry, f) for f in fields} == {f: getattr(real, f) for f in fields}
    assert (real.deployments, real.expired_logs, real.bundles, real.kept_bundles) == (2, 2, 4, 2)
    assert _everything() != before


def test_the_cleanup_command_prints_counts_and_bytes_and_dry_run_deletes_nothing(fleet, policy):
    _world(policy, fleet)
    before = _everything()
    out = io.StringIO()

    call_command("cleanup", "--dry-run", stdout=out)

    text = out.getvalue()
    assert _everything() == before
    assert "Would delete the logs of 2 deployments finished over 90 days ago" in text
    assert "Would delete 2 deployments finished over 300 days ago" in text
    assert "Would delete 4 bundles" in text
    assert "bytes" in text
    out = io.StringIO()
    call_command("cleanup", stdout=out)
    assert "Deleted 4 bundles" in out.getvalue()
    assert _everything() != before
    again = io.StringIO()
    call_command("cleanup", stdout=again)
    assert "Deleted 0 bundles: 0 bytes" in again.getvalue()


def test_beat_runs_the_cleanup_task_daily(fleet, policy):
    from celery.schedules import crontab
    from django.conf import settings

    from deployments import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["cleanup"]
    assert entry["task"] == "deployments.tasks.cleanup"
    assert isinstance(entry["schedule"], crontab)
    assert entry["schedule"].hour == {3}
    app, group, host = fleet
    old = finished(group, make_revision(app), host, days_ago=100)

    result = tasks.cleanup.apply(throw=True).result

    assert result["expired_logs"] == 1
    assert logs(old) == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", 90), ("never", None), ("NEVER", None), ("30", 30)],
)
def test_retention_days_are_a_number_of_days_or_never(monkeypatch, value, expected):
    from core.env import env_days

    monkeypatch.setenv("FLEETDECK_LOG_RETENTION_DAYS", value)
    assert env_days("FLEETDECK_LOG_RETENTION_DAYS", 90) == expected


@pytest.mark.parametrize(("value", "message"), [("0", "at least 1 day, or never"), ("ninety", "or never")])
def test_a_bad_retention_value_names_the_variable_and_what_to_use(monkeypatch, value, message):
    from core.env import ConfigError, env_days

    monkeypatch.setenv("FLEETDECK_DEPLOYMENT_RETENTION_DAYS", value)
    with pytest.raises(ConfigError, match="FLEETDECK_DEPLOYMENT_RETENTION_DAYS") as error:
        env_days("FLEETDECK_DEPLOYMENT_RETENTION_DAYS", None)
    assert message in str(error.value)
