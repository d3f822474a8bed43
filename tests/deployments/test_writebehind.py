"""deployments.writebehind: held row writes, one statement per kind, nothing on error."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from factories import ALL_AT_ONCE, deploy, make_app, make_group, make_instance, make_revision

from deployments import writebehind
from deployments.models import HostCommand, LifecycleEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def events():
    app = make_app()
    for i in range(3):
        make_instance(f"web-{i}", role="web")
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    return deployment, list(LifecycleEvent.objects.filter(target__deployment=deployment, status="Pending"))


def test_held_updates_are_written_at_the_end_one_statement_per_set_of_fields(events):
    _, rows = events
    with transaction.atomic(), writebehind.held():
        for row in rows[:6]:
            row.message = f"m{row.pk}"
            writebehind.save(row, ["message"])
        rows[0].script_name = "x.sh"
        writebehind.save(rows[0], ["script_name"])  # same object: its fields join the held write
        assert not LifecycleEvent.objects.exclude(message="").exists()  # nothing written yet
        with CaptureQueriesContext(connection) as flushed:
            writebehind.flush()
    assert len(flushed) == 2  # rows 1-5 (message) in one UPDATE, row 0 (message, script_name) in another
    assert LifecycleEvent.objects.get(pk=rows[0].pk).script_name == "x.sh"
    assert {r.message for r in LifecycleEvent.objects.filter(pk__in=[r.pk for r in rows[:6]])} == {
        f"m{r.pk}" for r in rows[:6]
    }


def test_nothing_held_is_written_when_the_block_raises(events):
    deployment, rows = events
    before = HostCommand.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic(), writebehind.held():
        rows[0].message = "lost"
        writebehind.save(rows[0], ["message"])
        writebehind.insert(
            [
                HostCommand(
                    instance_id=rows[1].target.instance_id,
                    deployment=deployment,
                    lifecycle_event=rows[1],
                    payload={},
                )
            ]
        )
        raise RuntimeError("boom")
    assert HostCommand.objects.count() == before
    assert LifecycleEvent.objects.get(pk=rows[0].pk).message == ""


def test_a_second_copy_of_a_held_row_writes_the_first_before_it(events):
    _, rows = events
    with transaction.atomic(), writebehind.held():
        rows[0].message = "first"
        writebehind.save(rows[0], ["message"])
        copy = LifecycleEvent.objects.get(pk=rows[0].pk)
        copy.script_name = "second.sh"
        writebehind.save(copy, ["script_name"])
    row = LifecycleEvent.objects.get(pk=rows[0].pk)
    assert (row.message, row.script_name) == ("first", "second.sh")


def test_outside_a_held_block_writes_happen_at_once(events):
    _, rows = events
    rows[0].message = "now"
    writebehind.save(rows[0], ["message"])
    assert LifecycleEvent.objects.get(pk=rows[0].pk).message == "now"


def test_held_rows_keep_every_type_of_value_nulls_included(events):
    """Timestamps, NULLs, integers and text come back exactly (on PostgreSQL this is the
    UPDATE … FROM (VALUES …) path, where a column of NULLs alone would be text)."""
    from django.utils import timezone

    deployment, rows = events
    now = timezone.now().replace(microsecond=123456)
    commands = [
        HostCommand(
            instance_id=row.target.instance_id, deployment=deployment, lifecycle_event=row, payload={}
        )
        for row in rows[:4]
    ]
    HostCommand.objects.bulk_create(commands)
    with transaction.atomic(), writebehind.held():
        for i, command in enumerate(commands):
            command.status = "Acked"
            command.acked_at = now if i % 2 else None
            command.timeout_seconds = 100 + i
            writebehind.save(command, ["status", "acked_at", "timeout_seconds"])
        for row in rows[:4]:
            row.ended_at = None
            row.log_tail = 'it\'s "quoted" ; -- and ünïcode'
            writebehind.save(row, ["ended_at", "log_tail"])
    stored = {c.pk: c for c in HostCommand.objects.filter(pk__in=[c.pk for c in commands])}
    for i, command in enumerate(commands):
        got = stored[command.pk]
        assert (got.status, got.acked_at, got.timeout_seconds) == ("Acked", now if i % 2 else None, 100 + i)
    for row in LifecycleEvent.objects.filter(pk__in=[r.pk for r in rows[:4]]):
        assert (row.ended_at, row.log_tail) == (None, 'it\'s "quoted" ; -- and ünïcode')
