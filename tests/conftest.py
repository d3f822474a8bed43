"""Suite-wide fixtures.

In the test process Celery runs tasks eagerly, so engine tests see the whole flow synchronously.
The end-to-end stack (tests/e2e) runs a real worker in its own process on its own queue.
"""

from __future__ import annotations

import os

import pytest

from config.celery import app as celery_app

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config):
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


def require(condition: bool, what: str) -> None:
    """Skip on a laptop that lacks a service; in CI a missing service is a failure, never a skip."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available")


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="correct horse battery staple")


@pytest.fixture
def api_client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
