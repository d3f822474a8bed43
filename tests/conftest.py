"""Suite-wide fixtures.

In the test process Celery runs tasks eagerly, so engine tests see the whole flow synchronously.
The end-to-end stack (tests/e2e) runs a real worker in its own process on its own queue.
"""

from __future__ import annotations

import os

import pytest
from aws_fixtures import aws_env, moto_server  # noqa: F401  (one moto server for every test)

from config.celery import app as celery_app

# Every fake the suite talks to (GitHub, JIRA, trigger receivers, health-check servers, moto) is on
# this machine, which the outbound policy refuses by default: the suite opens loopback as an operator
# would, for this process and for the stacks it starts. tests/security sets the default back.
LOOPBACK = "127.0.0.0/8,::1"


def pytest_configure(config):
    from django.conf import settings

    os.environ.setdefault("FLEETDECK_OUTBOUND_ALLOW", LOOPBACK)
    settings.OUTBOUND_ALLOW = [entry for entry in os.environ["FLEETDECK_OUTBOUND_ALLOW"].split(",") if entry]

    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    # PBKDF2 costs ~0.5 s per user; tests need no password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="correct horse battery staple")


@pytest.fixture
def api_client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
