"""Server-Sent Events for one deployment: backfill from the event log, then follow Redis wake-ups.

The database is the only source of truth. A Redis message only says "rows up to seq N exist"; the
stream then reads every row after its own cursor, so a lost or late message costs latency, never
a row. When Redis is unreachable the stream re-reads the database every POLL_SECONDS instead.
"""

from __future__ import annotations

import asyncio
import json
import time

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_safe

from deployments import asyncdb, realtime
from deployments.models import DEPLOYMENT_TERMINAL, Deployment, DeploymentEvent
from projects.access import membership_for
from projects.models import Project

CHUNK = 500
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 2.0


@asyncdb.db
def _allowed(user, slug: str, deployment_id: str) -> bool:
    project = Project.objects.filter(slug=slug).first()
    if project is None or membership_for(user, project) is None:
        return False
    return Deployment.objects.filter(pk=deployment_id, application__project=project).exists()


@asyncdb.db
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


async def _announced(watch: realtime.Watch, timeout: float) -> int | None:
    """The highest seq announced on the stream's channel within `timeout` seconds, or None (a bare
    wake-up, such as the subscription starting, also ends the wait: the caller reads the database)."""
    best = None
    for message in await watch.wait(timeout):
        try:
            seq = int(message)
        except ValueError:
            continue
        best = seq if best is None else max(best, seq)
    return best


async def events(deployment_id: str, cursor: int):
    """The SSE body. It watches its channel before the first read, and Redis confirming the
    subscription wakes it to read again, so no announcement falls in between."""
    watch = realtime.subscriber.watch(realtime.deployment_channel(deployment_id))
    try:
        yield "retry: 2000\n\n"
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
            if not watch.healthy:
                timeout = min(timeout, POLL_SECONDS)
            seq = await _announced(watch, timeout)
            if seq is not None:
                announced = max(announced, seq)
            elif time.monotonic() - last_sent_at >= KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                last_sent_at = time.monotonic()
    finally:
        realtime.subscriber.unwatch(watch)


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
