"""The per-deployment event log and the state machines on the models."""

from __future__ import annotations

import pytest
import rollout_agent as agent
from django.db import transaction
from factories import (
    ALL_AT_ONCE,
    deploy,
    finish_host,
    issued,
    make_app,
    make_group,
    make_instance,
    make_revision,
    refresh,
)

from deployments import eventlog
from deployments.models import DeploymentEvent, IllegalTransition, LifecycleEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app():
    return make_app()


def lines(*seqs: int) -> list[dict]:
    return [{"seq": s, "text": f"line {s}", "stream": "stdout", "script": "", "ts": ""} for s in seqs]


def test_sequence_numbers_run_one_to_n_without_gaps_across_changes_and_log_lines(app):
    hosts = [make_instance(f"web-{i}", role="web") for i in (1, 2)]
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    for host in hosts:
        while commands := issued(host):
            command = commands[0]
            agent.ack(command.pk, host, 60)
            agent.record_logs(command.pk, host, lines(1, 2))
            agent.record_logs(command.pk, host, lines(3))
            agent.complete(command.pk, host, "Succeeded", {})
    deployment = refresh(deployment)
    assert deployment.status == "Succeeded"
    seqs = list(DeploymentEvent.objects.filter(deployment=deployment).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert deployment.event_seq == len(seqs)
    kinds = set(DeploymentEvent.objects.filter(deployment=deployment).values_list("kind", flat=True))
    assert kinds == {"deployment", "target", "event", "log"}
    assert DeploymentEvent.objects.filter(deployment=deployment, kind="log").count() == 2 * 7 * 3


def test_record_logs_ignores_lines_it_already_stored(app):
    host = make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    (command,) = issued(host)
    assert agent.record_logs(command.pk, host, lines(1, 2, 3)) == 3
    assert agent.record_logs(command.pk, host, lines(1, 2, 3)) == 0
    assert agent.record_logs(command.pk, host, lines(5, 3, 4)) == 2
    stored = DeploymentEvent.objects.filter(deployment=deployment, kind="log").order_by("seq")
    assert [e.message for e in stored] == ["line 1", "line 2", "line 3", "line 4", "line 5"]
    assert stored[0].event == "ApplicationStop"
    assert stored[0].instance == "web-1"
    assert stored[0].as_dict()["stream"] == "stdout"


def test_every_status_change_is_an_event_log_row(app):
    host = make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    finish_host(host)
    rows = DeploymentEvent.objects.filter(deployment=deployment)
    assert list(rows.filter(kind="deployment").values_list("status", flat=True)) == [
        "Created",
        "InProgress",
        "Succeeded",
    ]
    assert list(rows.filter(kind="target").values_list("status", flat=True)) == ["InProgress", "Succeeded"]
    assert rows.filter(kind="event", status="InProgress").count() == 7
    assert rows.filter(kind="event", status="Succeeded").count() == 7


def test_eventlog_since_returns_rows_after_a_cursor(app):
    make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    assert [e.seq for e in eventlog.since(deployment.id, 1, limit=2)] == [2, 3]


def test_a_full_save_never_rewinds_the_sequence_counter(app):
    make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    stale = refresh(deployment)
    with transaction.atomic():  # appended while `stale` is held in memory
        eventlog.append(deployment.id, [eventlog.entry("log", message="x")])
    stale.description = "edited"
    stale.save()
    assert refresh(deployment).event_seq == stale.event_seq + 1


def test_a_finished_deployment_refuses_to_go_back_in_progress(app):
    host = make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    finish_host(host)
    deployment = refresh(deployment)
    with pytest.raises(IllegalTransition, match="cannot move from Succeeded to InProgress"):
        deployment.move_to("InProgress")
    assert refresh(deployment).status == "Succeeded"


def test_a_created_deployment_cannot_jump_to_succeeded(app):
    make_instance("web-1", role="web")
    queued_behind = deploy(make_group(app), make_revision(app))
    queued = deploy(queued_behind.deployment_group, make_revision(app))
    with pytest.raises(IllegalTransition):
        queued.move_to("Succeeded")


def test_targets_and_events_refuse_illegal_moves(app):
    host = make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    target = deployment.targets.get()
    with pytest.raises(IllegalTransition):
        target.move_to("Pending")
    finish_host(host)
    target.refresh_from_db()
    with pytest.raises(IllegalTransition):
        target.move_to("Failed")
    event = LifecycleEvent.objects.filter(target=target).first()
    with pytest.raises(IllegalTransition, match="Event ApplicationStop cannot move from Succeeded to Failed"):
        event.move_to("Failed", instance_name="web-1", deployment_id=deployment.id)
