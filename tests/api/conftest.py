"""Fixtures for the API tests: each fixture makes one object."""

from __future__ import annotations

import pytest
from api_helpers import APPSPEC, PROJECT

from deployments.models import HALF_AT_A_TIME, Application, DeploymentConfig, DeploymentGroup, Revision
from projects.models import Membership, Project, Role


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
    project = Project.objects.create(name="Team", slug=PROJECT, created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    return project


@pytest.fixture
def application(project, user) -> Application:
    return Application.objects.create(name="shop", project=project, created_by=user)


@pytest.fixture
def group(application) -> DeploymentGroup:
    return DeploymentGroup.objects.create(
        application=application,
        name="web",
        deployment_config=DeploymentConfig.objects.get(name=HALF_AT_A_TIME),
        tag_filters=[{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}],
    )


@pytest.fixture
def revision(application) -> Revision:
    return Revision.objects.create(
        application=application, bundle_type="zip", sha256="a" * 64, appspec=APPSPEC
    )
