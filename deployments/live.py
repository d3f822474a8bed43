"""Server-Sent Events for one deployment: backfill from the event log, then follow Redis wake-ups.

The database is the only source of truth. A Redis message only says "rows up to seq N exist"; the
stream then reads every row after its own cursor, so a lost or late message costs latency, never
a row. When Redis is unreachable the stream re-reads the database every POLL_SECONDS instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_safe

from deployments import realtime
from deployments.models import DEPLOYMENT_TERMINAL, Deployment, DeploymentEvent
from projects.access import membership_for
from projects.models import Project

log = logging.getLogger(__name__)

CHUNK = 500
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 2.0
RECONNECT_SECONDS = 5.0


def _db(fn):
    def run(*args, **kwargs):
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)


@_db
def _allowed(user, slug: str, deployment_id: str) -> bool:
    project = Project.objects.filter(slug=slug).first()
    if project is None or membership_for(user, project) is None:
        return False
    return Deployment.objects.filter(pk=deployment_id, application__project=project).exists()


@_db
def _read(deployment_id: str, after: int) -> tuple[list[dict], int, bool]:
    """Rows after `after`, plus the deployment's last seq and terminal flag as read BEFORE the rows.

    Reading the deployment first matters: its event_seq only moves with committed rows, so every
    seq up to it is readable by the second query, and "done" is never claimed too early.
    """
    row = Deployment.objects.filter(pk=deployment_id).values("event_seq", "status").first()
    if row is None:
        return [], after, True
    rows = DeploymentEvent.objects.filter(deployment_id=deployment_id, seq__gt=after).order_by("seq")[:CHUNK]
    return [r.as_dict() for r in rows], row["event_seq"], row["status"] in DEPLOYMENT_TERMINAL


def frame(item: dict) -> str:
    return f"id: {item['seq']}\nevent: {item['kind']}\ndata: {json.dumps(item, separators=(',', ':'))}\n\n"


class _Wakeups:
    """A Redis subscription that degrades to "no wake-ups" (and polling) instead of failing."""

    def __init__(self, channel: str):
        self.channel = channel
        self.conn = None
        self.pubsub = None
        self.next_try = 0.0

    async def connect(self) -> None:
        if self.pubsub is not None or time.monotonic() < self.next_try:
            return
        try:
            self.conn = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
            self.pubsub = self.conn.pubsub()
            await self.pubsub.subscribe(self.channel)
        except Exception as exc:
            log.warning("live stream: no Redis subscription (%s); polling the database", exc)
            await self.close()
            self.next_try = time.monotonic() + RECONNECT_SECONDS

    @property
    def healthy(self) -> bool:
        return self.pubsub is not None

    async def wait(self, timeout: float) -> int | None:
        """The highest seq announced within `timeout` seconds, or None."""
        await self.connect()
        if self.pubsub is None:
            await asyncio.sleep(min(timeout, POLL_SECONDS))
            return None
        deadline = time.monotonic() + timeout
        best = None
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return best
                # After the first message only drain what is already there, then go read the DB.
                message = await self.pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=left if best is None else 0.0
                )
                if message is None:
                    if best is not None:
                        return best
                    continue
                if message.get("type") == "message":
                    try:
                        seq = int(message["data"])
                    except (TypeError, ValueError):
                        continue
                    best = seq if best is None else max(best, seq)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("live stream: Redis subscription lost (%s); polling the database", exc)
            await self.close()
            self.next_try = time.monotonic() + RECONNECT_SECONDS
            return best

    async def close(self) -> None:
        pubsub, conn = self.pubsub, self.conn
        self.pubsub = self.conn = None
        for thing in (pubsub, conn):
            if thing is not None:
                with contextlib.suppress(Exception):
                    await thing.aclose()


async def events(deployment_id: str, cursor: int):
    """The SSE body. Subscribes before the first read so no announcement falls in between."""
    wakeups = _Wakeups(realtime.deployment_channel(deployment_id))
    try:
        yield "retry: 2000\n\n"
        await wakeups.connect()
        announced = cursor
        last_sent_at = time.monotonic()
        while True:
            rows, known, terminal = await _read(deployment_id, cursor)
            for item in rows:
                yield frame(item)
                cursor = item["seq"]
            if rows:
                last_sent_at = time.monotonic()
            announced = max(announced, known)
            if len(rows) == CHUNK:
                continue  # more backfill
            if cursor < announced:
                # A gap: rows announced (or counted) but not read yet. Read again; if the database
                # itself does not know those rows, it is right and the announcement is not.
                if not rows:
                    if cursor >= known:
                        announced = known
                    await asyncio.sleep(0.05)
                continue
            if terminal and cursor >= known:
                yield f"event: end\ndata: {json.dumps({'seq': cursor})}\n\n"
                return
            idle = time.monotonic() - last_sent_at
            timeout = max(KEEPALIVE_SECONDS - idle, 0.0)
            if not wakeups.healthy:
                timeout = min(timeout, POLL_SECONDS)
            seq = await wakeups.wait(timeout)
            if seq is not None:
                announced = max(announced, seq)
            elif time.monotonic() - last_sent_at >= KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                last_sent_at = time.monotonic()
    finally:
        await wakeups.close()


def _cursor(request) -> int:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("after") or "0"
    try:
        return max(int(raw), 0)
    except ValueError:
        return 0


@require_safe
async def stream(request, slug: str, deployment_id: str) -> HttpResponse:
    user = await request.auser()
    if not await _allowed(user, slug, deployment_id):
        raise Http404("No such deployment.")
    body = events(deployment_id, _cursor(request))
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache, no-transform"
    response["X-Accel-Buffering"] = "no"
    return response
