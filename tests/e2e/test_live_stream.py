"""The deployment SSE stream against the real server: backfill, live rows, gap refill, the end."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time

import pytest
import redis
import requests
from django.db import transaction
from page_setup import PageRollout, make_user, session_cookie

from deployments import engine, eventlog, realtime
from deployments.models import Deployment


class SSE:
    """Reads one stream in a thread; events land in a queue as (id, event, data) tuples."""

    def __init__(self, url: str, cookies: dict, headers: dict | None = None):
        self.response = requests.get(
            url, cookies=cookies, headers=headers or {}, stream=True, timeout=(5, 60)
        )
        self.events: queue.Queue = queue.Queue()
        self.comments: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self.response.iter_lines(chunk_size=None, decode_unicode=True):
                if line == "":
                    if "event" in fields or "data" in fields:
                        self.events.put(
                            (fields.get("id"), fields.get("event", "message"), fields.get("data"))
                        )
                    fields = {}
                elif line.startswith(":"):
                    self.comments.append(line)
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        except (requests.RequestException, AttributeError, ValueError):
            pass  # closed by the test
        self.events.put(None)

    def take(self, n: int, timeout: float = 10) -> list[tuple]:
        out, deadline = [], time.monotonic() + timeout
        while len(out) < n:
            item = self.events.get(timeout=max(deadline - time.monotonic(), 0.01))
            assert item is not None, f"the stream ended after {out}"
            out.append(item)
        return out

    def until(self, kind: str, timeout: float = 20) -> list[tuple]:
        out, deadline = [], time.monotonic() + timeout
        while True:
            item = self.events.get(timeout=max(deadline - time.monotonic(), 0.01))
            assert item is not None, f"the stream ended before {kind}: {out}"
            out.append(item)
            if item[1] == kind:
                return out

    def close(self) -> None:
        # Shut the socket down first: close() alone waits for the reader thread's pending read.
        conn = getattr(self.response.raw, "connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.response.close()


def seqs(items) -> list[int]:
    return [int(i[0]) for i in items if i[0] is not None]


def log_rows(deployment_id: str, *texts: str) -> int:
    with transaction.atomic():
        return eventlog.append(
            deployment_id,
            [eventlog.entry("log", instance="h", event="BeforeInstall", message=t) for t in texts],
        )


@pytest.fixture
def setup(live_stack, fleet, tmp_path):
    r = PageRollout(live_stack, fleet, tmp_path, hosts=[])
    r.idle_instances(2)  # the rollout waits on them, and the test writes the log itself
    deployment = engine.create_deployment(group=r.group, revision=r.revision("v1"), user=r.owner)
    viewer = make_user(r.project, "viewer")
    return r, Deployment.objects.get(pk=deployment.pk), session_cookie(viewer)


def stream_url(r, deployment) -> str:
    return r.url(f"{deployment.pk}/stream")


def test_it_backfills_after_last_event_id_then_sends_new_rows_live(setup):
    r, deployment, cookies = setup
    last = log_rows(deployment.pk, "one", "two", "three")
    stream = SSE(stream_url(r, deployment), cookies, {"Last-Event-ID": str(last - 2)})
    try:
        assert stream.response.headers["Content-Type"].startswith("text/event-stream")
        backfill = stream.take(2)
        assert seqs(backfill) == [last - 1, last]
        assert [json.loads(d)["message"] for _, _, d in backfill] == ["two", "three"]
        assert {kind for _, kind, _ in backfill} == {"log"}

        started = time.monotonic()
        newest = log_rows(deployment.pk, "four")
        (item,) = stream.take(1)
        assert int(item[0]) == newest
        assert json.loads(item[2])["message"] == "four"
        assert time.monotonic() - started < 5  # pushed, not found by the 15 s re-check
    finally:
        stream.close()


def test_after_query_parameter_works_like_last_event_id(setup):
    r, deployment, cookies = setup
    last = log_rows(deployment.pk, "a", "b")
    stream = SSE(stream_url(r, deployment) + f"?after={last - 1}", cookies)
    try:
        assert seqs(stream.take(1)) == [last]
    finally:
        stream.close()


def subscribers(deployment_id: str) -> int:
    """How many connections listen on the deployment's channel (Redis PUBSUB NUMSUB)."""
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
    try:
        ((_, count),) = client.pubsub_numsub(realtime.deployment_channel(deployment_id))
        return count
    finally:
        client.close()


def test_rows_whose_announcement_was_lost_are_refilled(setup, monkeypatch):
    """Two rows are written while announcements are lost; the next row's announcement brings all three,
    in order, at once (not by the 15 s re-check, nor by polling a stream that never subscribed)."""
    r, deployment, cookies = setup
    start = Deployment.objects.get(pk=deployment.pk).event_seq
    assert start >= 1, "the deployment has logged its creation"
    stream = SSE(stream_url(r, deployment) + f"?after={start - 1}", cookies)
    try:
        # The stream subscribes before its first read, so the backfilled row means "read and now idle"...
        assert seqs(stream.take(1)) == [start]
        # ...and the channel's subscriber is the stream itself, following announcements, not polling.
        deadline = time.monotonic() + 5
        while subscribers(deployment.pk) < 1:
            assert time.monotonic() < deadline, "the stream never subscribed to its Redis channel"
            time.sleep(0.05)
        with monkeypatch.context() as m:
            m.setattr(realtime, "publish_deployment", lambda *a: None)
            log_rows(deployment.pk, "lost 1", "lost 2")
        started = time.monotonic()
        last = log_rows(deployment.pk, "announced")

        items = stream.take(3)
        assert seqs(items) == [last - 2, last - 1, last]
        assert [json.loads(d)["message"] for _, _, d in items] == ["lost 1", "lost 2", "announced"]
        assert time.monotonic() - started < 5  # with the announcement, not found by the 15 s re-check
    finally:
        stream.close()


def test_the_stream_ends_once_the_deployment_is_terminal_and_every_row_is_sent(setup):
    r, deployment, cookies = setup
    stream = SSE(stream_url(r, deployment) + "?after=0", cookies)
    try:
        engine.request_stop(deployment.pk, by="the test")
        items = stream.until("end")
        final = Deployment.objects.get(pk=deployment.pk)
        assert final.is_terminal
        assert seqs(items) == list(range(1, final.event_seq + 1))
        statuses = [json.loads(d).get("status") for _, kind, d in items if kind == "deployment"]
        assert statuses[-1] == final.status
        assert stream.events.get(timeout=5) is None  # and the server closed it
    finally:
        stream.close()


def test_outsiders_and_anonymous_users_get_a_404(setup):
    r, deployment, _ = setup
    outsider = make_user(r.project, None)
    assert (
        requests.get(stream_url(r, deployment), cookies=session_cookie(outsider), timeout=10).status_code
        == 404
    )
    assert requests.get(stream_url(r, deployment), timeout=10).status_code == 404
