"""Fixtures for the CodeDeploy endpoint's tests: each makes one object."""

from __future__ import annotations

import pytest
from codedeploy_helpers import client as boto_client
from codedeploy_helpers import in_process

from projects.models import AccessKey, Membership, Project, Role

ENDPOINT = "http://testserver/codedeploy"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def project(db, user) -> Project:
    project = Project.objects.create(name="Shop", slug="shop", created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    return project


@pytest.fixture
def access_key(project, user) -> tuple[AccessKey, str]:
    return AccessKey.issue(user, project)


@pytest.fixture(params=["json", "cbor"])
def protocol(request) -> str:
    return request.param


@pytest.fixture
def codedeploy(access_key, protocol, client):
    """A boto3 CodeDeploy client with the owner's key, in the test's protocol, in process."""
    key, secret = access_key
    boto = boto_client(key.key_id, secret, ENDPOINT, protocol=protocol)
    boto.sent = in_process(boto, client)
    return boto
