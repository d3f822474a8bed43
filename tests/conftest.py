"""Suite-wide fixtures.

In the test process Celery runs tasks eagerly, so engine tests see the whole flow synchronously.
The end-to-end stack (tests/e2e) runs a real worker in its own process on its own queue.
"""

from __future__ import annotations

import os

import pytest
from aws_fixtures import aws_env, moto_server  # noqa: F401  (one moto server for every test)
from factories import make_user

from config import embedded_redis
from config.celery import app as celery_app

# Every fake the suite talks to (GitHub, JIRA, trigger receivers, health-check servers, moto) is on
# this machine, which the outbound policy refuses by default: the suite opens loopback as an operator
# would, for this process and for the stacks it starts. tests/security sets the default back.
LOOPBACK = "127.0.0.0/8,::1"


# Without REDIS_URL the session starts the embedded Redis and owns it: it ends with the run.
_redis: embedded_redis.EmbeddedRedis | None = None


def pytest_configure(config):
    global _redis
    from django.conf import settings

    if settings.EMBEDDED_REDIS and not hasattr(config, "workerinput"):  # xdist's workers use the controller's
        _redis = embedded_redis.start(settings.VAR_DIR)

    os.environ.setdefault("FLEETDECK_OUTBOUND_ALLOW", LOOPBACK)
    settings.OUTBOUND_ALLOW = [entry for entry in os.environ["FLEETDECK_OUTBOUND_ALLOW"].split(",") if entry]

    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    # PBKDF2 costs ~0.5 s per user; tests need no password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_unconfigure(config):
    global _redis
    if _redis is not None:
        _redis.stop()
        _redis = None


@pytest.fixture
def user(django_user_model):
    return make_user("alice", password="correct horse battery staple")


@pytest.fixture
def api_client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
