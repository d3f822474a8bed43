"""Fixtures for the hostile-input tests. The agent API ones mirror tests/agent_api/conftest.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))


@pytest.fixture
def agent_api_settings(settings, monkeypatch, tmp_path):
    """What the agent API views need in tests; see tests/agent_api/conftest.py for why."""
    from django.db import connections

    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # the long poll falls back to re-reading the database
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    return settings
