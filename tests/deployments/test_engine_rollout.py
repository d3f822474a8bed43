"""engine: driving a rollout as agents would — fast path, idempotency, batches and failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
import rollout_agent as agent
from django.apps import apps
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
from deployments.lifecycle import INSTALL_EVENTS
from deployments.models import HostCommand, Instance, LifecycleEvent

pytestmark = pytest.mark.django_db(transaction=True)

FAILURE_MESSAGE = "Script at specified location: scripts/stop.sh run as user root failed with exit code 3"


@pytest.fixture
def app():
    return make_app()


def fleet(n: int, prefix: str = "web"):
    return [make_instance(f"{prefix}-{i}", role="web") for i in range(1, n + 1)]


def statuses(deployment) -> dict[str, str]:
    return dict(deployment.targets.values_list("instance__name", "status"))


def test_completing_an_event_issues_exactly_the_next_event_for_that_host(app):
    (host,) = fleet(1)
    deployment = deploy(make_group(app), make_revision(app))
    (first,) = issued(host)
    complete(first, host)
    (second,) = issued(host)
    assert second.lifecycle_event.name == "DownloadBundle"
    assert HostCommand.objects.filter(deployment=deployment).count() == 2


def test_a_host_runs_as_todays_agent_does_one_ack_then_every_next_event_handed_out_started(app):
    """The production path: completions with `start_next` through `agent_calls` (as the agent API
    batches them); each answer carries the host's next event, already started with the agent's timeout."""
    (host,) = fleet(1)
    deployment = deploy(make_group(app), make_revision(app))
    ran = agent.run_host(host, timeouts={"Install": 120})
    assert [name for name, _ in ran] == list(INSTALL_EVENTS)
    assert [started for _, started in ran] == [False] + [True] * (len(INSTALL_EVENTS) - 1)
    assert refresh(deployment).status == "Succeeded"
    commands = HostCommand.objects.filter(deployment=deployment)
    assert commands.count() == len(INSTALL_EVENTS)
    assert commands.filter(started_on_delivery=True).count() == len(INSTALL_EVENTS) - 1
    assert commands.get(lifecycle_event__name="Install").timeout_seconds == 120
    assert set(commands.values_list("status", flat=True)) == {"Completed"}


def test_completing_twice_and_advancing_again_issues_nothing_twice(app):
    (host,) = fleet(1)
    deployment = deploy(make_group(app), make_revision(app))
    while commands := issued(host):
        command = commands[0]
        complete(command, host)
        again = agent.complete(command.pk, host, "Failed", {"error_code": "ScriptFailed"})
        assert again.status == "Completed"
        assert again.lifecycle_event.status == "Succeeded"  # the first answer wins
        for _ in range(3):
            engine.advance(deployment.id)
    assert refresh(deployment).status == "Succeeded"
    events = LifecycleEvent.objects.filter(target__deployment=deployment)
    assert events.count() == len(INSTALL_EVENTS)
    assert HostCommand.objects.filter(deployment=deployment).count() == len(INSTALL_EVENTS)
    assert set(events.values_list("status", flat=True)) == {"Succeeded"}
    assert all(HostCommand.objects.filter(lifecycle_event=e).count() == 1 for e in events)


def test_advance_run_repeatedly_in_the_middle_of_a_batch_starts_nobody_new(app):
    hosts = fleet(4)
    deployment = deploy(make_group(app, config=HALF_AT_A_TIME), make_revision(app))
    for _ in range(3):
        engine.advance(deployment.id)
    assert HostCommand.objects.filter(deployment=deployment).count() == 2
    assert not issued(hosts[2]) and not issued(hosts[3])


def every_row() -> dict:
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in apps.get_models()}


def test_advance_ignores_an_unknown_deployment_id(app):
    """A late task for a deployment that is gone: no error and no effect, not even on a deployment that is
    mid-rollout on hosts gone silent (which a stray step, such as the sweep, would fail)."""
    hosts = fleet(4)
    deploy(make_group(app, config=HALF_AT_A_TIME), make_revision(app))
    finish_host(hosts[0])
    Instance.objects.update(online=True, last_seen=timezone.now() - timedelta(days=1))
    before = every_row()
    assert engine.advance("d-NOSUCHONE") is None
    assert every_row() == before


def test_half_at_a_time_on_four_hosts_waits_for_the_first_two(app):
    hosts = fleet(4)
    deployment = deploy(make_group(app, config=HALF_AT_A_TIME), make_revision(app))
    finish_host(hosts[0])
    # One host done frees room for one more: rolling, never more than two out of service.
    assert statuses(deployment) == {
        "web-1": "Succeeded",
        "web-2": "InProgress",
        "web-3": "InProgress",
        "web-4": "Pending",
    }
    assert not issued(hosts[3])
    finish_host(hosts[1])
    assert [c.lifecycle_event.name for c in issued(hosts[3])] == ["ApplicationStop"]
    finish_host(hosts[2])
    finish_host(hosts[3])
    deployment = refresh(deployment)
    assert deployment.status == "Succeeded"
    assert deployment.error_code == ""
    assert deployment.ended_at is not None


def test_one_at_a_time_fails_on_an_early_failure_and_skips_the_rest(app):
    hosts = fleet(4)
    deployment = deploy(make_group(app), make_revision(app))
    finish_host(hosts[0])
    finish_host(hosts[1], "Failed", fail_at="ApplicationStart")
    deployment = refresh(deployment)
    assert deployment.status == "Failed"
    assert deployment.error_code == "HEALTH_CONSTRAINTS"
    assert "web-2: ApplicationStart ScriptFailed" in deployment.error_message
    assert statuses(deployment) == {
        "web-1": "Succeeded",
        "web-2": "Failed",
        "web-3": "Skipped",
        "web-4": "Skipped",
    }
    assert not issued(hosts[2]) and not issued(hosts[3])
    skipped_events = LifecycleEvent.objects.filter(target__instance__in=hosts[2:])
    assert set(skipped_events.values_list("status", flat=True)) == {"Skipped"}
    failed_host_events = dict(
        LifecycleEvent.objects.filter(target__instance=hosts[1], target__deployment=deployment).values_list(
            "name", "status"
        )
    )
    assert failed_host_events["ApplicationStart"] == "Failed"
    assert failed_host_events["ValidateService"] == "Skipped"


def test_one_at_a_time_succeeds_when_only_the_last_host_fails(app):
    hosts = fleet(3)
    deployment = deploy(make_group(app), make_revision(app))
    finish_host(hosts[0])
    finish_host(hosts[1])
    finish_host(hosts[2], "Failed")
    assert refresh(deployment).status == "Succeeded"
    assert statuses(deployment)["web-3"] == "Failed"


def test_half_at_a_time_fails_when_the_first_two_of_four_fail(app):
    hosts = fleet(4)
    deployment = deploy(make_group(app, config=HALF_AT_A_TIME), make_revision(app))
    finish_host(hosts[0], "Failed", fail_at="BeforeInstall")
    assert statuses(deployment)["web-3"] == "Pending"  # no room while web-2 runs
    finish_host(hosts[1], "Failed", fail_at="Install")
    deployment = refresh(deployment)
    assert deployment.status == "Failed"
    assert deployment.error_code == "HEALTH_CONSTRAINTS"
    assert "web-1" in deployment.error_message and "web-2" in deployment.error_message
    assert statuses(deployment) == {
        "web-1": "Failed",
        "web-2": "Failed",
        "web-3": "Skipped",
        "web-4": "Skipped",
    }


def test_half_at_a_time_halts_but_lets_the_running_host_finish(app):
    hosts = fleet(4)
    deployment = deploy(make_group(app, config=HALF_AT_A_TIME), make_revision(app))
    finish_host(hosts[0])  # web-3 starts
    finish_host(hosts[1], "Failed")  # 1 failed; room for web-4 (4 - 1 - 1 running - 2 = 0): none
    assert statuses(deployment)["web-4"] == "Pending"
    finish_host(hosts[2], "Failed")  # 2 failed: no host may ever be started again
    deployment = refresh(deployment)
    assert deployment.status == "Failed"
    assert statuses(deployment) == {
        "web-1": "Succeeded",
        "web-2": "Failed",
        "web-3": "Failed",
        "web-4": "Skipped",
    }


def test_all_at_once_succeeds_when_one_host_succeeds(app):
    hosts = fleet(3)
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    assert len(issued(deployment=deployment)) == 3
    finish_host(hosts[0], "Failed")
    finish_host(hosts[1], "Failed")
    assert refresh(deployment).status == "InProgress"
    finish_host(hosts[2])
    assert refresh(deployment).status == "Succeeded"


def test_all_at_once_fails_when_every_host_fails(app):
    hosts = fleet(3)
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    for host in hosts:
        finish_host(host, "Failed", fail_at="ApplicationStop")
    deployment = refresh(deployment)
    assert deployment.status == "Failed"
    assert deployment.error_code == "HEALTH_CONSTRAINTS"
    assert "0 of 3 instances succeeded" in deployment.error_message
    for host in hosts:
        assert f"{host.name}: ApplicationStop ScriptFailed" in deployment.error_message


def test_a_skipped_event_moves_the_host_on_like_a_success(app):
    (host,) = fleet(1)
    deployment = deploy(make_group(app), make_revision(app))
    (stop,) = issued(host)
    complete(stop, host, "Skipped")
    assert issued(host)[0].lifecycle_event.name == "DownloadBundle"
    finish_host(host)
    assert refresh(deployment).status == "Succeeded"


def test_completion_diagnostics_and_times_are_stored_on_the_event(app):
    (host,) = fleet(1)
    deploy(make_group(app), make_revision(app))
    (command,) = issued(host)
    agent.complete(
        command.pk,
        host,
        "Failed",
        {
            "error_code": "ScriptFailed",
            "script_name": "scripts/stop.sh",
            "message": FAILURE_MESSAGE,
            "log_tail": "boom",
        },
        started_at="2026-01-02T03:04:05Z",
        ended_at="2026-01-02T03:04:09+00:00",
    )
    event = LifecycleEvent.objects.get(pk=command.lifecycle_event_id)
    assert event.status == "Failed"
    assert event.diagnostics == {
        "error_code": "ScriptFailed",
        "script_name": "scripts/stop.sh",
        "message": FAILURE_MESSAGE,
        "log_tail": "boom",
    }
    assert (event.ended_at - event.started_at).total_seconds() == 4


def test_ack_marks_the_event_in_progress_and_records_the_timeout(app):
    (host,) = fleet(1)
    deploy(make_group(app), make_revision(app))
    (command,) = issued(host)
    acked = agent.ack(command.pk, host, 900)
    assert acked.status == "Acked"
    assert acked.timeout_seconds == 900
    assert acked.lifecycle_event.status == "InProgress"
    again = agent.ack(command.pk, host, 5)
    assert again.timeout_seconds == 900


def test_another_instance_cannot_touch_a_command(app):
    host, other = fleet(2)
    deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    command = issued(host)[0]
    assert agent.ack(command.pk, other, 60) is None
    assert agent.record_logs(command.pk, other, [{"seq": 1, "text": "x"}]) is None
    assert agent.complete(command.pk, other, "Failed", {}) is None
    command.refresh_from_db()
    assert command.status == "Issued"
    assert command.log_seq == 0
