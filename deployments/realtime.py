"""Redis carries wake-ups only: losing a message never loses state, because readers re-check the DB.

* `fd:agent-wake` carries an instance id when a command is issued for it; it wakes that host's long polls.
* `fd:deployment:<id>` carries the last event-log sequence number for live pages.

Publishing is a plain client. Listening is `subscriber`: one Redis subscription per web process, shared
by every long poll and every live stream in it, so Redis connections grow with processes, not with
agents or open pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter, defaultdict

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


class Watch:
    """One waiter's interest in a channel, or in one key on it (`fd:agent-wake` carries instance ids).

    Its event is set when a message for it arrives, and also when the subscription starts, restarts or
    is lost: whatever was published meanwhile is gone, so the waiter re-reads the database."""

    MAX_PENDING = 1000

    def __init__(self, subscriber: Subscriber, channel: str, key: str | None) -> None:
        self.subscriber, self.channel, self.key = subscriber, channel, key
        self.event = asyncio.Event()
        self.messages: list[str] = []

    @property
    def healthy(self) -> bool:
        """Whether Redis has confirmed the subscription: until then, and after it is lost, a waiter
        re-reads the database on a timer instead of trusting that silence means nothing happened."""
        return self.channel in self.subscriber.live

    def _deliver(self, data: str | None) -> None:
        if data is not None and len(self.messages) < self.MAX_PENDING:
            self.messages.append(data)
        self.event.set()

    def take(self) -> list[str]:
        """The messages received since the last take, and the event cleared."""
        messages, self.messages = self.messages, []
        self.event.clear()
        return messages

    async def wait(self, timeout: float) -> list[str]:
        """Wait up to `timeout` s for a wake-up; the messages that came (empty: a bare wake-up or none)."""
        if not self.event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), timeout=timeout)
        return self.take()


class Subscriber:
    """The process's one Redis subscription, fanned out to the `Watch`es waiting in it.

    A channel is subscribed while at least one watch wants it (`fd:agent-wake` always, which also keeps
    the connection's read loop alive). It reconnects by itself, with a growing delay; while it is down
    every watch is healthy=False and woken, so waiters fall back to re-reading the database."""

    def __init__(self) -> None:
        self.watches: dict[tuple[str, str | None], set[Watch]] = defaultdict(set)
        self.wanted: Counter[str] = Counter()
        self.live: set[str] = set()
        self.task: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pubsub = None
        self.commands: set[asyncio.Task] = set()

    @property
    def healthy(self) -> bool:
        return AGENT_WAKE_CHANNEL in self.live

    def watch(self, channel: str, key=None) -> Watch:
        """Wake-ups for `channel` (only those whose message is `key`, if given), from now on."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            # A new event loop (each of a test's, say): nothing of the old one can still be waiting.
            self.watches.clear()
            self.wanted.clear()
        if self.task is None or self.task.done() or self.loop is not loop:
            self.loop, self.live, self.pubsub = loop, set(), None
            self.task = loop.create_task(self._listen())
        watch = Watch(self, channel, None if key is None else str(key))
        self.watches[(channel, watch.key)].add(watch)
        self.wanted[channel] += 1
        if self.wanted[channel] == 1 and self.pubsub is not None and channel != AGENT_WAKE_CHANNEL:
            self._command(self.pubsub.subscribe(channel))
        return watch

    def unwatch(self, watch: Watch) -> None:
        waiting = self.watches.get((watch.channel, watch.key))
        if waiting is None or watch not in waiting:
            return  # registered on an event loop since replaced
        waiting.discard(watch)
        if not waiting:
            self.watches.pop((watch.channel, watch.key), None)
        self.wanted[watch.channel] -= 1
        if self.wanted[watch.channel] <= 0:
            del self.wanted[watch.channel]
            if watch.channel != AGENT_WAKE_CHANNEL:
                self.live.discard(watch.channel)
                if self.pubsub is not None:
                    self._command(self.pubsub.unsubscribe(watch.channel))

    def _command(self, coroutine) -> None:
        """(Un)subscribe beside the read loop; a failure there also ends the read loop, which
        reconnects and subscribes to every wanted channel again."""

        async def run():
            try:
                await coroutine
            except Exception as exc:
                log.debug("Redis (un)subscribe failed: %s", exc)

        task = asyncio.get_running_loop().create_task(run())
        self.commands.add(task)
        task.add_done_callback(self.commands.discard)

    def _wake(self, channel: str, data: str | None) -> None:
        for watch in self.watches.get((channel, None), ()):
            watch._deliver(data)
        if data is not None:
            for watch in self.watches.get((channel, data), ()):
                watch._deliver(None)

    def _wake_channel(self, channel: str) -> None:
        for (watched, _), watches in self.watches.items():
            if watched == channel:
                for watch in watches:
                    watch._deliver(None)

    def _wake_all(self) -> None:
        for watches in self.watches.values():
            for watch in watches:
                watch._deliver(None)

    def _on_message(self, message: dict) -> None:
        kind = message.get("type")
        channel = message.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode()
        if kind == "message":
            data = message.get("data")
            self._wake(channel, data.decode() if isinstance(data, bytes) else str(data))
        elif kind == "subscribe" and (channel in self.wanted or channel == AGENT_WAKE_CHANNEL):
            self.live.add(channel)
            # Anything published before Redis confirmed the subscription is lost: re-check the DB.
            self._wake_channel(channel)
        elif kind == "unsubscribe" and channel not in self.wanted:
            self.live.discard(channel)

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
                self.pubsub = pubsub
                others = [channel for channel in self.wanted if channel != AGENT_WAKE_CHANNEL]
                if others:
                    await pubsub.subscribe(*others)
                delay = 0.2
                async for message in pubsub.listen():
                    self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # redis-py can swallow a cancel while connecting; honour it, or the loop never closes.
                    raise asyncio.CancelledError from exc
                if self.live:
                    log.warning("Redis wake-up subscription lost: %s", exc)
            finally:
                self.pubsub = None
                self.live = set()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.aclose()
            # Down (or, unexpectedly, unsubscribed from everything): every waiter re-reads the database.
            self._wake_all()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


subscriber = Subscriber()
