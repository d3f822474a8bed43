"""One live stack (uvicorn, Celery worker, beat) for every end-to-end test, on the test database."""

from __future__ import annotations

import pytest
from browser import AUDIT, chromium, page  # noqa: F401  (every e2e module's browser, checked by axe)
from django.test import override_settings
from e2e_harness import api_user, fleet_of, stack_env, started_stack

LB_SCRIPT = """#!/bin/sh
# usage: lb.sh allow|block name=hostname ...
action=$1; shift
# A test holds an application's balancer (a long drain or health wait) while <app>.hold exists;
# <app>.holding gets a line for each shift that waits on it.
if [ -e "{lb_dir}/$FLEETDECK_APPLICATION_NAME.hold" ]; then
  echo "$action $*" >> "{lb_dir}/$FLEETDECK_APPLICATION_NAME.holding"
  while [ -e "{lb_dir}/$FLEETDECK_APPLICATION_NAME.hold" ]; do sleep 0.1; done
fi
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test whose body passed still fails if a page it loaded has a serious accessibility fault."""
    try:
        result = yield
    except BaseException:
        AUDIT.finish(check=False)
        raise
    AUDIT.finish(check=True)
    return result


@pytest.fixture(scope="session")
def live_stack(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.conf import settings
    from fleetdeck_testing import require_postgresql_in_ci, require_redis

    require_redis().close()
    require_postgresql_in_ci()

    base = tmp_path_factory.mktemp("stack")
    # An on-premises "load balancer" for the command traffic router: one file per application
    # listing the hosts that receive traffic, plus a journal of every change.
    lb_dir = base / "lb"
    lb_dir.mkdir()
    lb_script = base / "lb.sh"
    lb_script.write_text(LB_SCRIPT.format(lb_dir=lb_dir))
    lb_script.chmod(0o755)
    env = {
        **stack_env(base, settings.REDIS_URL, "e2e"),
        "FLEETDECK_ALARM_POLL_INTERVAL": "1",
        "FLEETDECK_TRAFFIC_COMMAND_FILELB": str(lb_script),
        # The CodeDeploy endpoint's List* pages (test_codedeploy_api_e2e.py pages through two deployments).
        "FLEETDECK_CODEDEPLOY_PAGE_SIZE": "1",
        # Alarms are read with the standard AWS chain; the tests point groups at a local moto server.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    # Tests also create deployments in this process (the engine checks that the bundle is in storage):
    # it must see the stack's storage, not its own.
    with (
        started_stack(env, base / "logs") as stack,
        override_settings(MEDIA_ROOT=env["FLEETDECK_STORAGE_DIR"]),
    ):
        stack.lb_dir = lb_dir
        yield stack


@pytest.fixture
def api(live_stack, transactional_db):
    return api_user(live_stack.url, "e2e")


@pytest.fixture
def fleet(live_stack, api, tmp_path):
    with fleet_of(live_stack.url, api, tmp_path) as fleet:
        yield fleet
