"""The process's one Redis subscription (`realtime.subscriber`), against a real Redis: long polls and
live streams share it, each woken only by what concerns it."""

from __future__ import annotations

import asyncio

import pytest
import redis
from django.conf import settings
from fleetdeck_testing import require_redis

from deployments import realtime


@pytest.fixture
def publisher():
    client = require_redis()
    yield client
    client.close()


@pytest.fixture
def subscriber(publisher):
    return realtime.Subscriber()


async def _until(condition, what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.01)


def _clients_of(subscriber: realtime.Subscriber) -> int:
    """Redis connections the subscriber holds, counted by Redis: subscribers of the agent channel."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        ((_, count),) = client.pubsub_numsub(realtime.AGENT_WAKE_CHANNEL)
        return count
    finally:
        client.close()


def test_a_poll_and_a_stream_share_one_subscription_and_each_gets_only_its_own_wake_ups(
    subscriber, publisher
):
    channel = realtime.deployment_channel("d-subscriber-test")

    async def run():
        before = _clients_of(subscriber)
        host, other_host = (subscriber.watch(realtime.AGENT_WAKE_CHANNEL, key) for key in (41, 42))
        stream = subscriber.watch(channel)
        try:
            await _until(lambda: host.healthy and stream.healthy, "the subscriptions were never confirmed")
            assert _clients_of(subscriber) == before + 1  # one connection for the poll and the stream
            for watch in (host, other_host, stream):
                watch.take()  # the confirmation's wake-up (re-read the database)

            # What realtime.wake_agents and publish_deployment send (their client is cached per process).
            publisher.publish(realtime.AGENT_WAKE_CHANNEL, "41")
            publisher.publish(channel, "7")
            publisher.publish(channel, "9")
            await asyncio.wait_for(host.event.wait(), 5)
            messages = []
            while len(messages) < 2:
                messages += await stream.wait(5)
            assert messages == ["7", "9"]
            await asyncio.sleep(0.2)
            assert not other_host.event.is_set()  # another host's poll sleeps on
        finally:
            for watch in (host, other_host, stream):
                subscriber.unwatch(watch)
        # The stream's channel is given up with its last watch; the agent channel stays.
        await _until(lambda: channel not in subscriber.live, "the stream's channel was never given up")
        assert realtime.AGENT_WAKE_CHANNEL in subscriber.live
        subscriber.task.cancel()

    asyncio.run(run())


def test_without_redis_every_watch_is_unhealthy_and_woken_to_re_read_the_database(subscriber, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    async def run():
        watch = subscriber.watch(realtime.deployment_channel("d-down"))
        try:
            await asyncio.wait_for(watch.event.wait(), 5)  # woken by the failed connection
            assert watch.take() == []  # with nothing announced
            assert not watch.healthy
        finally:
            subscriber.unwatch(watch)
            subscriber.task.cancel()

    asyncio.run(run())
