"""Database queries per lifecycle event stay constant as the fleet grows.

A whole AllAtOnce rollout is driven through the real agent API views (poll, ack, complete) and the
real engine (Celery eager), counting every SQL statement with Django's CaptureQueriesContext. The
views' database work is run on the test thread (thread-sensitive) so the context sees it; the code
and the queries are otherwise exactly those of the server. Also checks that a batch of agent calls
(`engine.agent_calls`, what the web process runs when many agents report at once) keeps the
engine's guarantees.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import rollout_agent as agent
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from factories import (
    ALL_AT_ONCE,
    deploy,
    issued,
    make_app,
    make_group,
    make_instance,
    make_revision,
    refresh,
)

from deployments import asyncdb, engine
from deployments.agent_api import views
from deployments.models import CommandStatus, DeploymentEvent, HostCommand

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS_PER_HOST = 7  # ApplicationStop … ValidateService
# Every SQL statement of one lifecycle event as an agent drives it: the ack and the completion
# (each authenticated, each one transaction) and the completion's hand-over of the next event, plus
# the advance a host's last completion asks for (eager here, on the worker in production). Today 9 +
# 12 statements on SQLite (BEGIN and COMMIT included), 22.6 on average with the advances; the test
# fails if the count grows with the fleet at all.
BUDGET_PER_EVENT = 24
# With `start_next` (fleetdeck-agent 0.2) a completion hands over the next event already started, so
# there is no ack call: 13 statements for a completion alone, 15.8 on average with a host's first ack
# (from its poll) and the advances, on SQLite.
BUDGET_PER_EVENT_STARTED = 17
HEARTBEAT = 'UPDATE "deployments_instance" SET "last_seen"'


def counted(queries: CaptureQueriesContext) -> int:
    """Statements of one call, less the heartbeat write, which is throttled by the clock (at most one
    per call, every few seconds per host) rather than by the work."""
    heartbeats = [q for q in queries.captured_queries if q["sql"].startswith(HEARTBEAT)]
    assert len(heartbeats) <= 1
    return len(queries) - len(heartbeats)


@pytest.fixture(autouse=True)
def _views_on_test_thread(monkeypatch, settings):
    """Run the views' database calls on this thread, so CaptureQueriesContext counts them."""

    def db(fn):
        return sync_to_async(fn, thread_sensitive=True)

    monkeypatch.setattr(asyncdb, "db", db)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # no wake-up subscription: the polls use wait=0


def post(client, url: str, credential: str, body: dict | None = None):
    response = client.post(
        url,
        data=body or {},
        content_type="application/json",
        headers={"Authorization": f"Bearer {credential}"},
    )
    assert response.status_code == 200, response.content
    return response.json()


def roll_out(client, hosts: int, start_next: bool = False) -> dict:
    """Deploy to `hosts` hosts AllAtOnce and drive every host's events through the agent API, counting
    the queries of each kind of call and of the whole rollout (creation, advances, the end).

    With `start_next` the agents do what fleetdeck-agent does: each completion asks for the next
    event already started, so only a host's first event (from its poll) is acked."""
    name = f"{hosts}{'s' if start_next else ''}"
    app = make_app(f"shop{name}")
    instances = [make_instance(f"h{name}-{i}", role=f"r{name}") for i in range(hosts)]
    revision = make_revision(app)
    group = make_group(app, config=ALL_AT_ONCE, name=f"g{name}", tags={"role": f"r{name}"})
    per_call: dict[str, list[int]] = {"poll": [], "ack": [], "complete": []}
    with CaptureQueriesContext(connection) as whole:
        deployment = deploy(group, revision)
        # Each host polls once, then goes from event to event on the completions' answers.
        queue = {}
        for instance in instances:
            with CaptureQueriesContext(connection) as q:
                queue[instance.pk] = post(client, "/agent/v1/poll/?wait=0", instance.credential)["commands"]
            per_call["poll"].append(counted(q))
        for _ in range(EVENTS_PER_HOST):
            for instance in instances:
                (command,) = queue[instance.pk]
                base = f"/agent/v1/commands/{command['id']}"
                assert bool(command.get("started")) == (
                    start_next and command["lifecycle_event"] != "ApplicationStop"
                )
                if not command.get("started"):
                    with CaptureQueriesContext(connection) as q:
                        post(client, f"{base}/ack/", instance.credential, {"timeout_seconds": 60})
                    per_call["ack"].append(counted(q))
                body = {
                    "status": "Succeeded",
                    **({"start_next": {"timeouts": {"Install": 60}}} if start_next else {}),
                }
                with CaptureQueriesContext(connection) as q:
                    answer = post(client, f"{base}/complete/", instance.credential, body)
                per_call["complete"].append(counted(q))
                queue[instance.pk] = answer["commands"]
        assert all(commands == [] for commands in queue.values())
    assert refresh(deployment).status == "Succeeded"
    return {"total": len(whole), "events": hosts * EVENTS_PER_HOST, **per_call}


@pytest.mark.parametrize("start_next", [True, False], ids=["start_next", "ack_per_event"])
def test_queries_per_event_do_not_grow_with_the_fleet(client, start_next):
    small, large = roll_out(client, 2, start_next), roll_out(client, 20, start_next)
    # Each agent call costs the same whatever the fleet size, for every host and every event.
    for call in ("poll", "ack", "complete"):
        assert max(large[call]) == max(small[call]), (call, small[call], large[call])
    # On average (a host's last completion also runs the eager advance, in the worker in production).
    per_event = (sum(large["ack"]) + sum(large["complete"])) / large["events"]
    assert per_event <= (BUDGET_PER_EVENT_STARTED if start_next else BUDGET_PER_EVENT), per_event
    # The whole rollout, creation and advances included, is linear in the hosts: 10x the hosts
    # cost at most 10x the queries (the fixed part is shared), and per event within the budget.
    assert large["total"] <= 10 * small["total"], (small["total"], large["total"])
    assert large["total"] / large["events"] <= small["total"] / small["events"]
    assert large["total"] / large["events"] <= BUDGET_PER_EVENT + 3  # + polls, advances, heartbeats


def test_a_batch_of_agent_calls_keeps_the_engine_guarantees():
    app = make_app()
    hosts = [make_instance(f"web-{i}", role="web") for i in range(5)]
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    first = {h.pk: issued(h)[0] for h in hosts}
    stranger = make_instance("stranger", role="other")
    calls = [("ack", first[h.pk].pk, h, (60,)) for h in hosts]
    calls.append(("ack", first[hosts[0].pk].pk, stranger, (60,)))  # not the stranger's command
    with CaptureQueriesContext(connection) as acks:
        results = engine.agent_calls(deployment.id, calls)
    assert [r.status if r else None for r in results] == [CommandStatus.ACKED] * 5 + [None]
    calls = [("complete", first[h.pk].pk, h, ("Succeeded", {})) for h in hosts]
    calls.append(calls[0])  # a resend: completing twice is harmless, the first wins
    with CaptureQueriesContext(connection) as completes:
        results = engine.agent_calls(deployment.id, calls)
    assert all(r.status == CommandStatus.COMPLETED for r in results)
    # Each host has exactly its next event issued, once.
    for h in hosts:
        (nxt,) = issued(h)
        assert nxt.lifecycle_event.name == "DownloadBundle"
    assert HostCommand.objects.filter(deployment=deployment).count() == 10
    # The event log is numbered 1..n without gaps, in the order things happened.
    seqs = list(
        DeploymentEvent.objects.filter(deployment=deployment).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))
    # One transaction per batch, and the rows it changes written behind: a statement per kind of
    # write, not per call.
    assert len(acks) <= 8, [q["sql"][:80] for q in acks.captured_queries]
    assert len(completes) <= 12, [q["sql"][:80] for q in completes.captured_queries]


@pytest.mark.parametrize("start_next", [None, {"Install": 90}], ids=["issued", "started"])
def test_a_batch_of_completions_costs_the_same_statements_for_2_or_20_hosts(start_next):
    """The serial part of a big rollout is the batch under the deployment's lock: its statements must
    not grow with the number of hosts reporting in it."""
    app = make_app()
    statements = {}
    for size in (2, 20):
        hosts = [make_instance(f"b{size}-{i}", role=f"b{size}") for i in range(size)]
        group = make_group(app, config=ALL_AT_ONCE, name=f"b{size}", tags={"role": f"b{size}"})
        deployment = deploy(group, make_revision(app))
        first = {h.pk: issued(h)[0] for h in hosts}
        engine.agent_calls(deployment.id, [("ack", first[h.pk].pk, h, (60,)) for h in hosts])
        calls = [
            ("complete", first[h.pk].pk, h, ("Succeeded", {}, None, None, None, start_next)) for h in hosts
        ]
        with CaptureQueriesContext(connection) as batch:
            results = engine.agent_calls(deployment.id, calls)
        statements[size] = len(batch)
        assert all(r.status == CommandStatus.COMPLETED for r in results)
        nxt = HostCommand.objects.filter(deployment=deployment).exclude(pk__in=[c.pk for c in first.values()])
        assert nxt.count() == size
        expected = ("Acked", "InProgress") if start_next else ("Issued", "Pending")
        assert {(c.status, c.lifecycle_event.status) for c in nxt.select_related("lifecycle_event")} == {
            expected
        }
        if start_next:
            assert {c.timeout_seconds for c in nxt} == {3600}  # DownloadBundle: not in the map
            assert all(r.started_next is not None for r in results)
    assert statements[20] == statements[2], statements


def test_one_bad_call_does_not_fail_the_rest_of_its_batch():
    app = make_app()
    a, b = make_instance("web-a", role="web"), make_instance("web-b", role="web")
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    ca, cb = issued(a)[0], issued(b)[0]
    results = engine.agent_calls(
        deployment.id,
        [("complete", ca.pk, a, ("NoSuchStatus", {})), ("complete", cb.pk, b, ("Succeeded", {}))],
    )
    assert isinstance(results[0], Exception)
    assert results[1].status == CommandStatus.COMPLETED
    assert HostCommand.objects.get(pk=ca.pk).status == CommandStatus.ISSUED  # nothing of the bad call kept
    assert issued(b)[0].lifecycle_event.name == "DownloadBundle"


def test_concurrent_completions_through_the_views_each_get_their_host_s_next_event(monkeypatch, rf):
    """Many agents completing at once go through the web process's batches and each gets its own
    host's next command back, once; the event log stays gap-free."""
    app = make_app()
    hosts = [make_instance(f"web-{i}", role="web") for i in range(8)]
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    first = {h.pk: issued(h)[0] for h in hosts}
    for h in hosts:
        agent.ack(first[h.pk].pk, h, 60)
    batches = []
    real = engine.agent_calls

    def counting(deployment_id, calls):
        batches.append(len(calls))
        return real(deployment_id, calls)

    monkeypatch.setattr(engine, "agent_calls", counting)

    async def complete_all():
        requests = [
            rf.post(
                f"/agent/v1/commands/{first[h.pk].pk}/complete/",
                data=json.dumps({"status": "Succeeded"}),
                content_type="application/json",
                headers={"Authorization": f"Bearer {h.credential}"},
            )
            for h in hosts
        ]
        try:
            return await asyncio.gather(
                *(
                    views.complete(request, command_id=first[h.pk].pk)
                    for request, h in zip(requests, hosts, strict=True)
                )
            )
        finally:
            await sync_to_async(connections.close_all, thread_sensitive=True)()  # the views' thread

    responses = asyncio.run(complete_all())
    assert sum(batches) == len(hosts)
    for response, h in zip(responses, hosts, strict=True):
        assert response.status_code == 200
        (command,) = json.loads(response.content)["commands"]
        assert command["lifecycle_event"] == "DownloadBundle"
        assert command["id"] == str(issued(h)[0].pk)
    seqs = list(
        DeploymentEvent.objects.filter(deployment=deployment).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))
