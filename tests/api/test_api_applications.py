from __future__ import annotations

import pytest

from deployments.models import Application

pytestmark = pytest.mark.django_db


def test_it_creates_an_application_and_finds_it_by_name(api_client):
    response = api_client.post("/api/v1/applications/", {"name": "shop", "project": "team"}, format="json")
    assert response.status_code == 201
    assert response.json()["name"] == "shop"
    detail = api_client.get("/api/v1/applications/shop/").json()
    assert detail["created_by"] == "alice"
    assert detail["deployment_groups"] == []


def test_it_refuses_a_name_with_bad_characters(api_client):
    response = api_client.post(
        "/api/v1/applications/", {"name": "my shop!", "project": "team"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert "name" in body["errors"]
    assert body["detail"].startswith("name: ")


def test_it_refuses_a_duplicate_name(api_client, application):
    response = api_client.post("/api/v1/applications/", {"name": "shop", "project": "team"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_it_paginates_sixty_applications_into_two_pages(api_client, project):
    Application.objects.bulk_create(Application(name=f"app-{n:02d}", project=project) for n in range(60))
    first = api_client.get("/api/v1/applications/").json()
    assert first["count"] == 60
    assert len(first["results"]) == 50
    assert first["next"] is not None
    second = api_client.get(first["next"]).json()
    assert len(second["results"]) == 10
    assert second["next"] is None


def test_it_lists_group_names_with_a_constant_number_of_queries(
    api_client, application, group, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        results = api_client.get("/api/v1/applications/").json()["results"]
    assert results[0]["deployment_groups"] == ["web"]


def test_it_deletes_an_application_without_deployments(api_client, application):
    assert api_client.delete("/api/v1/applications/shop/").status_code == 204
    assert not Application.objects.exists()


def test_it_answers_404_for_an_unknown_application(api_client):
    assert api_client.get("/api/v1/applications/nope/").status_code == 404
