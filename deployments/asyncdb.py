"""Database work from async code (the agent API, the live stream): one wrapper for both.

A call runs in asgiref's thread pool (`thread_sensitive=False`), so thousands of idle long polls and
streams cost a coroutine each, not a thread, and one slow query never holds up the event loop.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connection


def db(fn):
    """`fn` as a coroutine function that runs in the thread pool on that thread's connection."""

    def run(*args, **kwargs):
        # Hot path (every agent call, every live-page wake-up): no per-call health check (a SELECT 1
        # each time). A connection that failed is dropped, so the next call opens a fresh one, and
        # the caller retries this one (an agent's next call, a stream's next read or reconnect).
        try:
            return fn(*args, **kwargs)
        except (OperationalError, InterfaceError):
            connection.close()
            raise

    return sync_to_async(run, thread_sensitive=False)
