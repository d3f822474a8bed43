"""Redis carries wake-ups only: losing a message never loses state, because readers re-check the DB.

* `fd:agent-wake` carries an instance id when a command is issued for it; each web process keeps one
  subscription and wakes the matching long polls.
* `fd:deployment:<id>` carries the last event-log sequence number for live pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict

import redis
import redis.asyncio as aioredis
from django.conf import settings

log = logging.getLogger(__name__)

AGENT_WAKE_CHANNEL = "fd:agent-wake"

_client: redis.Redis | None = None
_client_lock = threading.Lock()


def client() -> redis.Redis:
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
                )
    return _client


def deployment_channel(deployment_id: str) -> str:
    return f"fd:deployment:{deployment_id}"


def _publish(channel: str, message: str) -> None:
    try:
        client().publish(channel, message)
    except (redis.RedisError, OSError) as exc:
        # Readers fall back to polling the database, so a missed wake-up only adds latency.
        log.warning("could not publish on %s: %s", channel, exc)


def publish_deployment(deployment_id: str, last_seq: int) -> None:
    _publish(deployment_channel(deployment_id), str(last_seq))


def wake_agents(instance_ids) -> None:
    ids = sorted({str(i) for i in instance_ids})
    if not ids:
        return
    try:
        pipe = client().pipeline(transaction=False)
        for instance_id in ids:
            pipe.publish(AGENT_WAKE_CHANNEL, instance_id)
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.warning("could not wake agents %s: %s", ",".join(ids), exc)


class AgentWaker:
    """One Redis subscription per process, fanned out to the long polls waiting in it."""

    def __init__(self) -> None:
        self.waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.task: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.healthy = False

    def register(self, instance_id) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.loop is not loop:
            self.loop = loop
            self.healthy = False
            self.task = loop.create_task(self._listen())
        event = asyncio.Event()
        self.waiters[str(instance_id)].add(event)
        return event

    def unregister(self, instance_id, event: asyncio.Event) -> None:
        key = str(instance_id)
        waiting = self.waiters.get(key)
        if waiting is not None:
            waiting.discard(event)
            if not waiting:
                self.waiters.pop(key, None)

    def _wake(self, key: str) -> None:
        for event in self.waiters.get(key, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self.waiters.values():
            for event in events:
                event.set()

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            conn = None
            try:
                conn = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
                pubsub = conn.pubsub()
                await pubsub.subscribe(AGENT_WAKE_CHANNEL)
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError
                self.healthy = True
                delay = 0.2
                # Anything published while we were away is lost: make every poll re-check the DB.
                self._wake_all()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._wake(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # redis-py can swallow a cancel while connecting; honour it, or the loop never closes.
                    raise asyncio.CancelledError from exc
                if self.healthy:
                    log.warning("agent wake-up subscription lost: %s", exc)
                self.healthy = False
                self._wake_all()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.aclose()


waker = AgentWaker()
