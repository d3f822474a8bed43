"""The SSE generator in-process: its frames, and that a Redis outage only slows it down."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from django.db import transaction
from django.test import override_settings
from factories import make_project
from pages_helpers import deployed

from deployments import eventlog, live

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_frame_carries_the_seq_as_id_and_the_kind_as_event():
    text = live.frame({"seq": 7, "kind": "log", "message": "hi"})
    assert text.startswith("id: 7\nevent: log\ndata: ")
    assert text.endswith("\n\n")
    assert json.loads(text.split("data: ", 1)[1]) == {"seq": 7, "kind": "log", "message": "hi"}


def _in_own_thread(coroutine_function):
    """asyncio.run in a fresh thread: the test thread may already have a loop (Playwright's)."""
    box: dict = {}

    def target():
        try:
            box["value"] = asyncio.run(coroutine_function())
        except BaseException as exc:  # re-raised in the test thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _collect(gen, until_seq: int, timeout: float) -> list[str]:
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = await asyncio.wait_for(gen.__anext__(), timeout=deadline - time.monotonic())
        out.append(chunk)
        if chunk.startswith(f"id: {until_seq}\n"):
            break
    await gen.aclose()
    return out


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens there
def test_without_redis_the_stream_still_delivers_new_rows_by_re_reading_the_database(monkeypatch):
    monkeypatch.setattr(live, "POLL_SECONDS", 0.3)
    monkeypatch.setattr("deployments.realtime.publish_deployment", lambda *a: None)
    deployment = deployed(make_project())
    cursor = type(deployment).objects.get(pk=deployment.pk).event_seq

    async def run():
        gen = live.events(deployment.pk, cursor)
        assert (await gen.__anext__()).startswith("retry:")

        def write():
            with transaction.atomic():
                return eventlog.append(deployment.pk, [eventlog.entry("log", instance="h", message="late")])

        from asgiref.sync import sync_to_async

        last = await sync_to_async(write, thread_sensitive=False)()
        started = time.monotonic()
        frames = await _collect(gen, last, timeout=5)
        return last, frames, time.monotonic() - started

    last, frames, took = _in_own_thread(run)
    assert frames[-1].startswith(f"id: {last}\nevent: log\n")
    assert took < 2
