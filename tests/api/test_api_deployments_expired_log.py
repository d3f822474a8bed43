"""GET /api/v1/deployments/{id}/ and its events after retention deleted the deployment's log lines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from factories import make_fleet

from deployments import engine, eventlog, retention
from deployments.models import Deployment, HostCommand

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/deployments/"


def run_to_the_end(deployment: Deployment) -> None:
    """Every host runs every event, printing a line each; web-01 fails ApplicationStart."""
    while command := HostCommand.objects.filter(deployment=deployment, status="Issued").first():
        event = command.lifecycle_event
        with transaction.atomic():
            eventlog.append(
                deployment.pk,
                [eventlog.entry("log", instance=command.instance.name, event=event.name, message="hello")],
            )
        engine.ack_command(command.pk, command.instance, 60)
        failing = command.instance.name == "web-01" and event.name == "ApplicationStart"
        diagnostics = (
            {"error_code": "ScriptFailed", "message": "exit code 2", "log_tail": "hello\nboom\n"}
            if failing
            else {}
        )
        engine.complete_command(
            command.pk, command.instance, "Failed" if failing else "Succeeded", diagnostics
        )


def test_the_answer_says_the_log_expired_and_keeps_results_and_diagnostics(
    api_client, group, revision, settings, project
):
    settings.LOG_RETENTION_DAYS = 30
    make_fleet(project, 2, name="web-{:02d}")
    created = api_client.post(
        URL, {"application": "shop", "deployment_group": "web", "revision": revision.pk}, format="json"
    ).json()
    deployment = Deployment.objects.get(pk=created["id"])
    run_to_the_end(deployment)
    Deployment.objects.filter(pk=deployment.pk).update(ended_at=timezone.now() - timedelta(days=31))
    before = api_client.get(f"{URL}{deployment.pk}/").json()
    assert before["log_expired_at"] is None
    assert any(e["kind"] == "log" for e in api_client.get(f"{URL}{deployment.pk}/events/").json()["events"])

    retention.cleanup()
    after = api_client.get(f"{URL}{deployment.pk}/").json()
    events = api_client.get(f"{URL}{deployment.pk}/events/").json()

    assert after["log_expired_at"] is not None
    assert {k: v for k, v in after.items() if k != "log_expired_at"} == {
        k: v for k, v in before.items() if k != "log_expired_at"
    }
    failed = next(t for t in after["targets"] if t["instance"] == "web-01")
    start = next(e for e in failed["lifecycle_events"] if e["name"] == "ApplicationStart")
    assert start["diagnostics"] == {
        "error_code": "ScriptFailed",
        "script_name": "",
        "message": "exit code 2",
        "log_tail": "hello\nboom\n",
    }
    assert events["log_expired_at"] == after["log_expired_at"]
    assert events["events"] and not any(e["kind"] == "log" for e in events["events"])
    assert {e["kind"] for e in events["events"]} >= {"deployment", "target", "event"}
    assert events["done"] is True
