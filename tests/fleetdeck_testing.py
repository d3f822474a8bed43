"""Helpers shared by test folders (imported by name: tests/ is on sys.path)."""

from __future__ import annotations

import os

import pytest

NOT_CI = {"", "0", "false", "no", "off"}


def ci_flag(value: str | None) -> bool:
    """Whether a CI variable's value means "this is CI". Any value but an empty or false one counts, as
    for pytest itself (CI systems set true, 1, on, or their own name), so a CI run never skips by a typo."""
    return (value or "").strip().lower() not in NOT_CI


IN_CI = ci_flag(os.environ.get("CI"))


def require(condition: bool, what: str) -> None:
    """Skip on a laptop that lacks a service; in CI a missing service is a failure, never a skip."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available")


def require_postgresql_in_ci() -> None:
    """The live-stack tests also run on SQLite on a laptop; in CI they must run on PostgreSQL, the
    production database (their row locks and concurrent processes are what they prove)."""
    from django.db import connection

    if IN_CI:
        require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")


def require_redis():
    """A client of the Redis at REDIS_URL, which must answer (a skip on a laptop, a failure in CI)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError):
        client.close()
        require(False, f"Redis at {settings.REDIS_URL}")
    return client
