"""Fixtures for the API tests: each fixture makes one object, through tests/factories.py."""

from __future__ import annotations

import pytest
from api_helpers import APPSPEC, PROJECT
from factories import HALF_AT_A_TIME, make_app, make_group, make_project, make_revision

from deployments.models import Application, DeploymentGroup, Revision
from projects.models import Project


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The suite's `user` fixture sets a password; PBKDF2 would make it most of each test's time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def project(db, user) -> Project:
    """Every API test works inside one project that `user` (alice) owns; see api_helpers.PROJECT."""
    return make_project(PROJECT, name="Team", owner=user)


@pytest.fixture
def application(project, user) -> Application:
    return make_app("shop", project=project, created_by=user)


@pytest.fixture
def group(application) -> DeploymentGroup:
    return make_group(application, "web", config=HALF_AT_A_TIME)


@pytest.fixture
def revision(application) -> Revision:
    return make_revision(application, sha256="a" * 64, appspec=APPSPEC)
