"""GET /api/v1/deployments/{id}/ lists the issues the deployment ships, as its page links them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import make_app, make_group, make_instance, make_member, make_project
from rest_framework.test import APIClient

from deployments import engine
from deployments.models import Revision
from integrations.models import IssueLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return make_project("shop")


@pytest.fixture
def deployment(project):
    group = make_group(make_app(project=project), "web")
    make_instance("web-1", project=project, role="web")
    revision = Revision.objects.create(application=group.application, bundle_type="tgz", sha256="ab" * 32)
    return engine.create_deployment(group=group, revision=revision)


def viewer(project) -> APIClient:
    client = APIClient()
    client.force_authenticate(make_member(project, "victor", "viewer"))
    return client


def test_a_deployments_answer_lists_its_linked_issues(project, deployment):
    IssueLink.objects.create(
        deployment=deployment,
        tracker="jira",
        key="SHOP-7",
        title="Totals are off",
        status="Done",
        url="https://jira.example/browse/SHOP-7",
    )
    IssueLink.objects.create(
        deployment=deployment, tracker="github", key="#12", title="Checkout", status="open"
    )
    response = viewer(project).get(f"/api/v1/deployments/{deployment.pk}/")
    assert response.status_code == 200
    assert response.json()["issues"] == [
        {"tracker": "github", "key": "#12", "title": "Checkout", "status": "open", "url": ""},
        {
            "tracker": "jira",
            "key": "SHOP-7",
            "title": "Totals are off",
            "status": "Done",
            "url": "https://jira.example/browse/SHOP-7",
        },
    ]


def test_a_deployment_without_links_answers_an_empty_list_and_asks_nothing_more(project, deployment):
    client = viewer(project)
    client.get(f"/api/v1/deployments/{deployment.pk}/")  # warm up: sessions, content types
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/deployments/{deployment.pk}/")
    assert response.json()["issues"] == []
    assert not any("integrations_issuelink" in q["sql"] and "EXISTS" not in q["sql"].upper() for q in queries)


def test_the_list_answer_stays_without_issues(project, deployment):
    IssueLink.objects.create(deployment=deployment, tracker="jira", key="SHOP-7")
    rows = viewer(project).get("/api/v1/deployments/").json()["results"]
    assert "issues" not in rows[0]
