"""The profile's CodeDeploy access keys page: a key is shown once, stored encrypted, and revocable."""

from __future__ import annotations

import pytest
from django.db import connection

from projects.models import AccessKey, Membership, Project, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    project = Project.objects.create(name="Shop", slug="shop", created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.VIEWER)
    return project


def test_a_key_is_created_for_a_project_and_its_secret_shown_once(client, user, project):
    client.force_login(user)

    created = client.post("/profile/access-keys/", {"project": project.pk})

    assert created.status_code == 201
    key = AccessKey.objects.get(user=user, project=project)
    page = created.content.decode()
    assert f"AccessKeyId: {key.key_id}" in page
    assert f"SecretAccessKey: {key.secret}" in page
    assert "http://testserver/codedeploy" in page
    assert key.key_id.startswith("FDK") and len(key.key_id) == 20
    again = client.get("/profile/access-keys/").content.decode()
    assert key.key_id in again and key.secret not in again
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM projects_accesskey WHERE id = %s", [key.pk])
        stored = cursor.fetchone()[0]
    assert key.secret not in stored and stored.startswith("fernet:")


def test_only_projects_the_user_is_on_are_offered(client, user, project):
    other = Project.objects.create(name="Elsewhere", slug="elsewhere")
    client.force_login(user)

    page = client.get("/profile/access-keys/").content.decode()
    refused = client.post("/profile/access-keys/", {"project": other.pk})

    assert "Shop" in page and "Elsewhere" not in page
    assert refused.status_code == 200
    assert not AccessKey.objects.filter(project=other).exists()


def test_a_key_is_revoked_by_its_owner_only(client, user, project, django_user_model):
    key, _ = AccessKey.issue(user, project)
    mallory = django_user_model.objects.create_user("mallory", password="x")
    client.force_login(mallory)
    assert client.post(f"/profile/access-keys/{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None

    client.force_login(user)
    response = client.post(f"/profile/access-keys/{key.pk}/revoke/")

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "revoked" in client.get("/profile/access-keys/").content.decode()


def test_the_page_needs_a_signed_in_user(client):
    response = client.get("/profile/access-keys/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
