"""engine: stopping, the per-group queue, and the sweep that fails what silent agents left behind."""

from __future__ import annotations

from datetime import timedelta

import pytest
import rollout_agent as agent
from django.utils import timezone
from factories import (
    ALL_AT_ONCE,
    HALF_AT_A_TIME,
    complete,
    deploy,
    finish_host,
    issued,
    make_app,
    make_group,
    make_instance,
    make_revision,
    refresh,
)

from deployments import engine
from deployments.models import HostCommand, Instance, LifecycleEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app():
    return make_app()


def statuses(deployment) -> dict[str, str]:
    return dict(deployment.targets.values_list("instance__name", "status"))


# --- stop --------------------------------------------------------------------------------------


def test_stop_skips_pending_hosts_cancels_unstarted_commands_and_lets_running_events_finish(app):
    hosts = [make_instance(f"web-{i}", role="web") for i in range(1, 5)]
    deployment = deploy(make_group(app, config=HALF_AT_A_TIME), make_revision(app))
    running, unstarted = issued(hosts[0])[0], issued(hosts[1])[0]
    agent.ack(running.pk, hosts[0], 60)

    assert engine.request_stop(deployment.id, by="alice") is True

    deployment = refresh(deployment)
    assert deployment.status == "InProgress"  # web-1 is still running its event
    assert deployment.error_code == "MANUAL_STOP"
    assert deployment.stop_requested_at is not None
    unstarted.refresh_from_db()
    assert unstarted.status == "Cancelled"
    assert statuses(deployment) == {
        "web-1": "InProgress",
        "web-2": "Unknown",
        "web-3": "Skipped",
        "web-4": "Skipped",
    }

    complete(running, hosts[0])
    deployment = refresh(deployment)
    assert deployment.status == "Stopped"
    assert deployment.error_code == "MANUAL_STOP"
    assert "alice" in deployment.error_message
    assert statuses(deployment)["web-1"] == "Unknown"  # stopped between events, not installed
    assert HostCommand.objects.filter(status="Issued").count() == 0
    assert set(
        LifecycleEvent.objects.filter(target__instance=hosts[0])
        .exclude(name="ApplicationStop")
        .values_list("status", flat=True)
    ) == {"Skipped"}


def test_an_agent_acking_a_cancelled_command_is_told_not_to_run_it(app):
    host = make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    (command,) = issued(host)
    engine.request_stop(deployment.id)
    assert agent.ack(command.pk, host, 60).status == "Cancelled"
    assert agent.complete(command.pk, host, "Succeeded", {}).status == "Cancelled"
    deployment = refresh(deployment)
    assert deployment.status == "Stopped"
    assert deployment.error_code == "MANUAL_STOP"


def test_stopping_a_finished_deployment_is_refused(app):
    host = make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    finish_host(host)
    assert engine.request_stop(deployment.id) is False
    assert refresh(deployment).status == "Succeeded"


def test_stopping_a_queued_deployment_stops_it_at_once(app):
    make_instance("web-1", role="web")
    group = make_group(app)
    deploy(group, make_revision(app))
    queued = deploy(group, make_revision(app))
    assert engine.request_stop(queued.id) is True
    queued = refresh(queued)
    assert queued.status == "Stopped"
    assert queued.error_code == "MANUAL_STOP"


# --- queue -------------------------------------------------------------------------------------


def test_a_second_deployment_in_the_group_queues_and_starts_when_the_first_ends(app):
    host = make_instance("web-1", role="web")
    group = make_group(app)
    first = deploy(group, make_revision(app))
    second = deploy(group, make_revision(app))
    assert second.status == "Queued"
    assert first.id in refresh(second).event_log.get(status="Queued").message
    assert not second.targets.exists()

    finish_host(host, "Failed", deployment=first)
    assert refresh(first).status == "Failed"
    second = refresh(second)
    assert second.status == "InProgress"
    assert [c.deployment_id for c in issued(host)] == [second.id]
    finish_host(host)
    assert refresh(second).status == "Succeeded"


def test_queued_deployments_start_in_creation_order(app):
    host = make_instance("web-1", role="web")
    group = make_group(app)
    first = deploy(group, make_revision(app))
    second = deploy(group, make_revision(app))
    third = deploy(group, make_revision(app))
    engine.request_stop(first.id)
    finish_host(host, deployment=first)
    assert refresh(first).status == "Stopped"
    assert refresh(second).status == "InProgress"
    assert refresh(third).status == "Queued"


def test_a_deployment_in_another_group_is_not_blocked(app):
    make_instance("web-1", role="web")
    make_instance("api-1", role="api")
    deploy(make_group(app, name="web"), make_revision(app))
    other = deploy(make_group(app, name="api"), make_revision(app))
    assert other.status == "InProgress"


# --- sweep -------------------------------------------------------------------------------------


@pytest.fixture
def timeouts(settings):
    settings.AGENT_PICKUP_TIMEOUT = 30
    settings.AGENT_OFFLINE_AFTER = 60
    settings.HOOK_TIMEOUT_GRACE = 10
    return settings


def test_a_command_nobody_picks_up_fails_with_agent_issue(app, timeouts):
    host = make_instance("web-1", role="web")
    Instance.objects.filter(pk=host.pk).update(last_seen=timezone.now())
    deployment = deploy(make_group(app), make_revision(app))
    (command,) = issued(host)

    assert engine.sweep(now=timezone.now() + timedelta(seconds=20)) == {
        "offline": 0,
        "failed_events": 0,
        "waits_ended": 0,
    }
    result = engine.sweep(now=command.issued_at + timedelta(seconds=31))
    assert result["failed_events"] == 1

    event = LifecycleEvent.objects.get(pk=command.lifecycle_event_id)
    assert event.status == "Failed"
    assert event.error_code == "AGENT_ISSUE"
    assert "No agent picked up" in event.message
    deployment = refresh(deployment)
    assert deployment.status == "Failed"
    assert deployment.error_code == "AGENT_ISSUE"
    assert "web-1" in deployment.error_message


def test_an_offline_agent_is_marked_offline_and_its_open_commands_fail(app, timeouts):
    hosts = [make_instance(f"web-{i}", role="web") for i in (1, 2)]
    now = timezone.now()
    Instance.objects.filter(pk=hosts[0].pk).update(last_seen=now - timedelta(seconds=61))
    Instance.objects.filter(pk=hosts[1].pk).update(last_seen=now)
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    agent.ack(issued(hosts[0])[0].pk, hosts[0], 600)

    assert engine.sweep(now=now) == {"offline": 1, "failed_events": 1, "waits_ended": 0}

    assert list(Instance.objects.filter(online=False).values_list("name", flat=True)) == ["web-1"]
    failed = LifecycleEvent.objects.get(target__instance=hosts[0], name="ApplicationStop")
    assert failed.error_code == "AGENT_ISSUE"
    assert "stopped responding" in failed.message
    assert statuses(deployment) == {"web-1": "Failed", "web-2": "InProgress"}
    finish_host(hosts[1])
    assert refresh(deployment).status == "Succeeded"  # AllAtOnce: one success is enough


def test_an_acked_event_past_its_timeout_and_grace_fails(app, timeouts):
    host = make_instance("web-1", role="web")
    Instance.objects.filter(pk=host.pk).update(last_seen=timezone.now() + timedelta(hours=1))
    deployment = deploy(make_group(app), make_revision(app))
    command = agent.ack(issued(host)[0].pk, host, 100)

    assert engine.sweep(now=command.acked_at + timedelta(seconds=109))["failed_events"] == 0
    assert engine.sweep(now=command.acked_at + timedelta(seconds=111))["failed_events"] == 1

    event = LifecycleEvent.objects.get(pk=command.lifecycle_event_id)
    assert event.error_code == "AGENT_ISSUE"
    assert "hook timeout (100 s) plus 10 s" in event.message
    assert refresh(deployment).error_code == "AGENT_ISSUE"


def test_a_late_completion_after_the_sweep_changes_nothing(app, timeouts):
    host = make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    (command,) = issued(host)
    engine.sweep(now=timezone.now() + timedelta(seconds=31))
    agent.complete(command.pk, host, "Succeeded", {})
    event = LifecycleEvent.objects.get(pk=command.lifecycle_event_id)
    assert event.status == "Failed"
    assert refresh(deployment).status == "Failed"


def test_the_sweep_with_nothing_to_do_changes_nothing(app, timeouts):
    assert engine.sweep() == {"offline": 0, "failed_events": 0, "waits_ended": 0}


def test_a_whole_fleet_falling_silent_at_once_blames_no_agent_until_the_grace_runs_out(app, timeouts):
    # A web restart or a broken proxy silences every agent together; a dead host goes alone.
    timeouts.FLEET_SILENCE_GRACE = 120
    hosts = [make_instance(f"web-{i}", role="web") for i in (1, 2)]
    now = timezone.now()
    Instance.objects.filter(pk__in=[h.pk for h in hosts]).update(last_seen=now - timedelta(seconds=61))
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    agent.ack(issued(hosts[0])[0].pk, hosts[0], 600)

    assert engine.sweep(now=now) == {"offline": 0, "failed_events": 0, "waits_ended": 0}
    assert engine.sweep(now=now + timedelta(seconds=100)) == {
        "offline": 0,
        "failed_events": 0,
        "waits_ended": 0,
    }
    assert Instance.objects.filter(online=True).count() == 2
    assert statuses(deployment) == {"web-1": "InProgress", "web-2": "InProgress"}

    # Past the offline limit plus the grace, the hosts are the likelier cause after all.
    result = engine.sweep(now=now + timedelta(seconds=121))
    assert result["offline"] == 2 and result["failed_events"] == 2
    assert refresh(deployment).error_code == "AGENT_ISSUE"


def test_one_agent_still_talking_means_the_silent_ones_are_offline_at_once(app, timeouts):
    timeouts.FLEET_SILENCE_GRACE = 120
    hosts = [make_instance(f"web-{i}", role="web") for i in (1, 2, 3)]
    now = timezone.now()
    Instance.objects.filter(pk__in=[hosts[0].pk, hosts[1].pk]).update(last_seen=now - timedelta(seconds=61))
    Instance.objects.filter(pk=hosts[2].pk).update(last_seen=now)
    deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    assert engine.sweep(now=now)["offline"] == 2
