"""One live stack (uvicorn, Celery worker, beat) for every end-to-end test, on the test database."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
import redis
from e2e_harness import Api, Fleet

from config.stack import Stack

LB_SCRIPT = """#!/bin/sh
# usage: lb.sh allow|block name=hostname ...
action=$1; shift
pool="{lb_dir}/$FLEETDECK_APPLICATION_NAME.hosts"
# Hosts are switched concurrently (one worker task per host): serialise edits of the file.
exec 9>"$pool.lock"
flock 9
touch "$pool"
for pair in "$@"; do
  name=${{pair%%=*}}
  grep -vx "$name" "$pool" > "$pool.tmp" || true
  if [ "$action" = allow ]; then echo "$name" >> "$pool.tmp"; fi
  sort "$pool.tmp" > "$pool"; rm -f "$pool.tmp"
  echo "$action $name $FLEETDECK_DEPLOYMENT_ID" >> "{lb_dir}/$FLEETDECK_APPLICATION_NAME.journal"
done
"""


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            # Every e2e test runs in the same xdist worker, so they share one stack.
            item.add_marker(pytest.mark.xdist_group("live-stack"))
            item.add_marker(pytest.mark.e2e)
            # Rows are written by other processes, so tests commit for real and the tables are
            # flushed afterwards (the agents of a test are stopped before that).
            item.add_marker(pytest.mark.django_db(transaction=True))


def _database_url(settings_dict: dict) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def live_stack(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.conf import settings
    from django.db import connection
    from fleetdeck_testing import require

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        redis_ok = True
    except (redis.RedisError, OSError):
        redis_ok = False
    require(redis_ok, f"Redis at {settings.REDIS_URL}")
    if os.environ.get("CI"):
        require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")

    base = tmp_path_factory.mktemp("stack")
    # An on-premises "load balancer" for the command traffic router: one file per application
    # listing the hosts that receive traffic, plus a journal of every change.
    lb_dir = base / "lb"
    lb_dir.mkdir()
    lb_script = base / "lb.sh"
    lb_script.write_text(LB_SCRIPT.format(lb_dir=lb_dir))
    lb_script.chmod(0o755)
    env = {
        "DATABASE_URL": _database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "FLEETDECK_VAR_DIR": str(settings.VAR_DIR),
        "FLEETDECK_STORAGE_DIR": str(base / "storage"),
        "FLEETDECK_QUEUE": f"e2e-{uuid.uuid4().hex[:8]}",
        "FLEETDECK_SWEEP_INTERVAL": "1",
        "FLEETDECK_AGENT_OFFLINE_AFTER": "4",
        "FLEETDECK_AGENT_PICKUP_TIMEOUT": "60",
        "FLEETDECK_HOOK_TIMEOUT_GRACE": "5",
        "FLEETDECK_ALARM_POLL_INTERVAL": "1",
        "FLEETDECK_TRAFFIC_COMMAND_FILELB": str(lb_script),
        # Alarms are read with the standard AWS chain; the tests point groups at a local moto server.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    stack = Stack(env=env, log_dir=base / "logs")
    stack.lb_dir = lb_dir
    try:
        stack.start(timeout=60)
    except RuntimeError:
        stack.stop()
        raise
    yield stack
    stack.stop()


@pytest.fixture
def api(live_stack, transactional_db):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user(f"e2e-{uuid.uuid4().hex[:8]}", password=uuid.uuid4().hex)
    return Api(live_stack.url, Token.objects.create(user=user).key)


@pytest.fixture
def fleet(live_stack, api, tmp_path):
    fleet = Fleet(server=live_stack.url, api=api, base=tmp_path, env={"FLEETDECK_AGENT_BACKOFF_CAP": "1"})
    yield fleet
    fleet.stop_all()
    if os.environ.get("FLEETDECK_KEEP_E2E"):
        return
    shutil.rmtree(tmp_path / "agents", ignore_errors=True)
