"""Server-side waits (traffic shifts, health checks, provisioning) have a Celery queue of their own.

The routing is checked from the settings; which queues a worker consumes is checked on real worker
processes and a real Redis: the worker command from before the waits queue existed (`celery -A config
worker --queues <main>`) must consume both queues, so an upgrade that keeps it keeps working, and
`python -m config.worker main|waits` only its own. That a long wait no longer holds up another
deployment is shown end to end in tests/e2e/test_wait_queue_e2e.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from fleetdeck_testing import require_redis

from config.celery import app
from config.processes import die_with_parent

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from e2e_harness import database_url

ROOT = Path(__file__).resolve().parent.parent.parent
WAITS = (
    "deployments.tasks.run_server_event",
    "deployments.tasks.provision_replacements",
    "deployments.tasks.check_provisioning",
)
NOT_WAITS = (
    "deployments.tasks.advance_deployment",
    "deployments.tasks.start_next_queued",
    "deployments.tasks.sweep",
    "deployments.tasks.roll_back",
)


def _queue_of(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def test_the_waits_go_to_the_wait_queue_and_everything_else_to_the_main_one():
    app.loader.import_default_modules()
    assert f"{settings.CELERY_TASK_DEFAULT_QUEUE}-waits" == settings.WAIT_QUEUE
    for name in WAITS:
        assert name in app.tasks, f"{name} is routed but no such task exists (renamed?)"
        assert _queue_of(name) == settings.WAIT_QUEUE
    for name in NOT_WAITS:
        assert _queue_of(name) == settings.CELERY_TASK_DEFAULT_QUEUE
    # Every routed name is a real task: a rename would otherwise send it silently to the main queue.
    assert set(settings.CELERY_TASK_ROUTES) == set(WAITS)


def _settings_process(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FLEETDECK_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        FLEETDECK_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:1/0",
        **variables,
    )
    probe = "import django; django.setup(); from django.conf import settings; print(settings.WAIT_QUEUE)"
    return subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_wait_queue_follows_fleetdeck_queue_and_may_be_named(tmp_path):
    assert _settings_process(tmp_path, FLEETDECK_QUEUE="deploys").stdout.strip() == "deploys-waits"
    named = _settings_process(tmp_path, FLEETDECK_WAIT_QUEUE="slow")
    assert named.stdout.strip() == "slow"


def test_a_wait_queue_that_is_the_main_queue_stops_the_server_with_a_message(tmp_path):
    done = _settings_process(tmp_path, FLEETDECK_QUEUE="same", FLEETDECK_WAIT_QUEUE="same")
    assert done.returncode != 0
    assert "FLEETDECK_WAIT_QUEUE='same' is also FLEETDECK_QUEUE" in done.stderr


# --- real workers ------------------------------------------------------------------------------


@pytest.fixture
def broker():
    client = require_redis()
    main = f"waitq-{uuid.uuid4().hex[:8]}"
    yield client, main, f"{main}-waits"
    client.delete(main, f"{main}-waits")
    client.close()


def _worker(argv: list[str], main: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url(connection.settings_dict),
        REDIS_URL=settings.REDIS_URL,
        FLEETDECK_QUEUE=main,
        PYTHONUNBUFFERED="1",
    )
    env.pop("FLEETDECK_WAIT_QUEUE", None)
    options = ["--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    return subprocess.Popen(
        [sys.executable, "-m", *argv, *options, "--without-heartbeat", "--hostname", f"{main}@%h"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("command", "consumes_main", "consumes_waits"),
    [
        # The worker command and systemd unit from before the waits queue existed.
        ("celery -A config worker --queues {main}", True, True),
        ("config.worker main", True, False),
        ("config.worker waits", False, True),
    ],
)
def test_which_queues_a_worker_consumes(
    broker, tmp_path, monkeypatch, command, consumes_main, consumes_waits
):
    client, main, waits = broker
    monkeypatch.setitem(app.conf, "task_always_eager", False)  # these go to the broker, not inline
    log = tmp_path / "worker.log"
    worker = _worker(command.format(main=main).split(), main, log)
    try:
        _wait_for(lambda: "ready." in log.read_text(errors="replace"), f"the worker never started: {log}")
        # Harmless tasks (no such deployment), one on each queue.
        on_main = app.send_task(NOT_WAITS[0], args=["no-such-deployment"], queue=main)
        on_waits = app.send_task(WAITS[2], args=["no-such-deployment"], queue=waits)
        ran = {queue: f"[{sent.id}] succeeded" for queue, sent in ((main, on_main), (waits, on_waits))}
        expected = {main: consumes_main, waits: consumes_waits}
        consumed = [queue for queue, yes in expected.items() if yes]
        _wait_for(
            lambda: all(ran[queue] in log.read_text(errors="replace") for queue in consumed),
            f"the worker did not run the tasks of {consumed}: {log}",
        )
        for queue, yes in expected.items():
            if not yes:
                assert ran[queue] not in log.read_text(errors="replace")
                assert client.llen(queue) == 1, f"the message on {queue} should still be waiting"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
