"""The agent's distribution and install script against a real server (pytest-django's live_server).

The wheelhouse is built once per session into its own directory (the first test pays for the
`pip wheel`), offline: FLEETDECK_AGENT_DIST_DOWNLOAD=0 is the air-gapped path, where PyYAML comes
from the server's own environment.
"""

from __future__ import annotations

import pytest
from factories import make_project


@pytest.fixture(scope="session")
def dist_var_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("agent-dist-var")


@pytest.fixture(autouse=True)
def _offline_dist(settings, dist_var_dir):
    settings.AGENT_DIST_DOWNLOAD = False
    settings.VAR_DIR = dist_var_dir


@pytest.fixture(autouse=True)
def _close_pool_connections(monkeypatch):
    """The agent API's thread-pool connections close after each call, so PostgreSQL can drop the test DB."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.fixture
def project(transactional_db):
    return make_project("shop")


@pytest.fixture
def token(project) -> str:
    from deployments.models import RegistrationToken

    return RegistrationToken.issue(project=project, tags={"role": "web"})[1]
