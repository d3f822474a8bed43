"""Fixtures for the cross-cutting security tests: a seeded project and clients for each of its users."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Reused helpers: the GitHub/JIRA fakes and receiver (integrations).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))

from net_guard import guard, names  # noqa: F401 - fixtures: no security test connects off this machine
from security_world import seed


@pytest.fixture(autouse=True)
def _quiet_outside_calls(settings, tmp_path):
    """Pages that call GitHub/JIRA/AWS give up at once: they point at a closed port."""
    settings.FLEETDECK_INTEGRATIONS_TIMEOUT = 1.0
    settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT = 1.0
    settings.FLEETDECK_TRIGGER_BACKOFF = 0
    settings.FLEETDECK_TRIGGER_ATTEMPTS = 1
    settings.MEDIA_ROOT = tmp_path / "media"
    # The dashboard tiles cache per project id; a private cache keeps other tests' tiles out.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def world(db):
    return seed()
