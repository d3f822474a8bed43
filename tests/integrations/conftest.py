"""Fakes of GitHub, JIRA and a trigger receiver on 127.0.0.1 (AWS: moto, see tests/aws_fixtures.py)."""

from __future__ import annotations

import pytest
from fakes import github_fake, jira_fake, receiver_fake, running


@pytest.fixture
def github():
    with running(github_fake) as fake:
        yield fake


@pytest.fixture
def jira():
    with running(jira_fake) as fake:
        yield fake


@pytest.fixture
def receiver():
    fake = receiver_fake()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _fast_integrations(settings, tmp_path):
    """Short timeouts and no backoff, so failure tests are quick; the values are settings, not code.
    Bundles the server fetches (GitHub archives) go to the test's own storage."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FLEETDECK_INTEGRATIONS_TIMEOUT = 2.0
    settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT = 1.0
    settings.FLEETDECK_TRIGGER_BACKOFF = 0
    settings.FLEETDECK_TRIGGER_ATTEMPTS = 3
