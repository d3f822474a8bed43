"""Fakes of GitHub, JIRA and a trigger receiver on 127.0.0.1, and moto's server for AWS."""

from __future__ import annotations

import pytest
from fakes import github_fake, jira_fake, receiver_fake


@pytest.fixture
def github():
    fake, state = github_fake()
    fake.state = state
    yield fake
    fake.stop()


@pytest.fixture
def jira():
    fake, state = jira_fake()
    fake.state = state
    yield fake
    fake.stop()


@pytest.fixture
def receiver():
    fake = receiver_fake()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _fast_integrations(settings):
    """Short timeouts and no backoff, so failure tests are quick; the values are settings, not code."""
    settings.FLEETDECK_INTEGRATIONS_TIMEOUT = 2.0
    settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT = 1.0
    settings.FLEETDECK_TRIGGER_BACKOFF = 0
    settings.FLEETDECK_TRIGGER_ATTEMPTS = 3


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, moto_server):
    """Fresh moto state per test, and no real AWS credentials anywhere near the tests."""
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=5)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_server
