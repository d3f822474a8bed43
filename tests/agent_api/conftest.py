"""The views run their database work in a thread pool, so these tests use real transactions."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_wakeup_subscription(settings):
    """Point the long poll's wake-up subscription at a closed port.

    Known bug (deployments/realtime.py, Subscriber._listen): when its event loop shuts down while
    the Redis subscription is connecting, redis-py can swallow the CancelledError and the task then
    blocks in pubsub.listen() for ever, so closing the loop hangs. The test client closes a loop
    per request, which made these tests hang at random. With the subscription down the poll falls
    back to re-checking the database, which is the documented degraded path; publishing (a separate
    sync client) is unaffected.
    """
    settings.REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _close_pool_connections(monkeypatch):
    """The views' thread-pool connections close after each call, so PostgreSQL can drop the test DB."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.fixture
def agent_client(client):
    """The Django test client with JSON posts and a bearer header."""

    class AgentClient:
        def post(self, url, body=None, credential=None, raw=None):
            headers = {"Authorization": f"Bearer {credential}"} if credential else {}
            data = raw if raw is not None else ({} if body is None else body)
            return client.post(url, data=data, content_type="application/json", headers=headers)

        def get(self, url, credential=None):
            headers = {"Authorization": f"Bearer {credential}"} if credential else {}
            return client.get(url, headers=headers)

    return AgentClient()
