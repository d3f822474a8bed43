"""The CLI against a real server: pytest-django's live_server (Django in a thread, real HTTP).

Tasks run eagerly in the server thread, so a deployment advances as far as it can without agents;
tests finish its host commands with `factories.finish`, as agents would.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Reuse the API and integration tests' helpers (bundle files, make_instance, finish) rather than copying them.
for _folder in ("api", "integrations"):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / _folder))

from cli_helpers import Cli  # noqa: E402 - after the sys.path set-up above
from factories import ALL_AT_ONCE, make_app, make_group, make_project, make_user  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No developer's real config or token leaks into a test, and polling is quick."""
    for name in (
        "FLEETDECK_URL",
        "FLEETDECK_TOKEN",
        "FLEETDECK_TOKEN_FILE",
        "FLEETDECK_PROFILE",
        "FLEETDECK_PROJECT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLEETDECK_CONFIG", str(tmp_path / "fleetdeck-config"))
    monkeypatch.setenv("FLEETDECK_POLL_INTERVAL", "0.1")


@pytest.fixture
def server(live_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return live_server.url


@pytest.fixture
def owner(transactional_db):
    return make_user("owner")


@pytest.fixture
def project(owner):
    return make_project("shop", owner=owner)


@pytest.fixture
def application(project, owner):
    return make_app("shop-app", project=project, created_by=owner)


@pytest.fixture
def group(application):
    return make_group(application, "web", config=ALL_AT_ONCE)


@pytest.fixture
def personal_token(owner) -> str:
    from projects.models import ApiToken

    return ApiToken.issue(owner, "ci")[1]


@pytest.fixture
def cli(server, personal_token, monkeypatch, capsys) -> Cli:
    """The CLI as a user with a personal token from their profile page would run it."""
    monkeypatch.setenv("FLEETDECK_URL", server)
    monkeypatch.setenv("FLEETDECK_TOKEN", personal_token)
    return Cli(capsys)


@pytest.fixture
def offline_cli(capsys) -> Cli:
    """The CLI with no server at all: for what must happen before any request."""
    return Cli(capsys)
