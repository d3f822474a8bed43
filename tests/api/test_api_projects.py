from __future__ import annotations

import pytest

from deployments.models import Application
from projects.models import Membership, Project, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob")


def test_the_creator_becomes_the_owner(api_client, user):
    response = api_client.post(
        "/api/v1/projects/", {"name": "Blog", "slug": "blog", "description": "words"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["role"] == "owner"
    assert Project.objects.get(slug="blog").role_of(user) == Role.OWNER


def test_it_refuses_a_bad_or_taken_slug(api_client):
    assert (
        api_client.post("/api/v1/projects/", {"name": "X", "slug": "Bad!"}, format="json").status_code == 400
    )
    response = api_client.post("/api/v1/projects/", {"name": "X", "slug": "team"}, format="json")
    assert response.status_code == 400
    assert "slug" in response.json()["errors"]


def test_the_slug_cannot_change(api_client):
    response = api_client.patch("/api/v1/projects/team/", {"slug": "other"}, format="json")
    assert response.status_code == 400


def test_deleting_a_project_deletes_its_applications(api_client, application):
    assert api_client.delete("/api/v1/projects/team/").status_code == 204
    assert not Application.objects.exists()


def test_an_owner_adds_changes_and_removes_a_member(api_client, bob, project):
    url = "/api/v1/projects/team/members/"
    response = api_client.post(url, {"username": "bob", "role": "viewer"}, format="json")
    assert response.status_code == 201, response.json()
    assert api_client.post(url, {"username": "bob", "role": "viewer"}, format="json").status_code == 400
    response = api_client.patch(f"{url}bob/", {"role": "contributor"}, format="json")
    assert response.json()["role"] == "contributor"
    assert project.role_of(bob) == "contributor"
    assert api_client.delete(f"{url}bob/").status_code == 204
    assert project.role_of(bob) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({"username": "nobody", "role": "viewer"}, "username"), ({"username": "bob", "role": "god"}, "role")],
)
def test_it_refuses_unknown_users_and_roles(api_client, bob, body, field):
    response = api_client.post("/api/v1/projects/team/members/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_last_owner_cannot_be_removed_or_demoted(api_client, bob, project):
    url = "/api/v1/projects/team/members/alice/"
    assert api_client.delete(url).status_code == 400
    response = api_client.patch(url, {"role": "viewer"}, format="json")
    assert response.status_code == 400
    assert "at least one owner" in response.json()["detail"]
    Membership.objects.create(project=project, user=bob, role=Role.OWNER)
    assert api_client.patch(url, {"role": "viewer"}, format="json").status_code == 200
