"""The deployment page shows the issues a deployment ships and links its GitHub commit."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import make_app, make_github, make_group, make_instance, make_member, make_project
from fakes import sha

from deployments import engine
from deployments.models import Revision
from integrations.models import IssueLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return make_project("shop")


def deploy(project, source="github"):
    group = make_group(make_app(project=project), "web")
    make_instance("web-1", project=project, role="web")
    location = (
        {"repository": "acme/shop", "commit": sha(3), "ref": "refs/heads/main"} if source == "github" else {}
    )
    revision = Revision.objects.create(
        application=group.application, source=source, bundle_type="tgz", location=location, sha256="ab" * 32
    )
    return engine.create_deployment(group=group, revision=revision)


def link(deployment, tracker, key, **fields):
    return IssueLink.objects.create(deployment=deployment, tracker=tracker, key=key, **fields)


def page(client, project, deployment, role="viewer"):
    client.force_login(make_member(project, f"{role}-{IssueLink.objects.count()}", role))
    response = client.get(f"/p/{project.slug}/deployments/{deployment.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_linked_issues_are_listed_with_summary_status_and_link(client, project):
    make_github(project, "http://127.0.0.1:9")
    deployment = deploy(project)
    link(
        deployment,
        "jira",
        "SHOP-7",
        title="Totals are off by one cent",
        status="Done",
        url="https://jira.example/browse/SHOP-7",
    )
    link(
        deployment,
        "github",
        "#15",
        title="Search is slow",
        status="open",
        url="https://github.example/acme/shop/issues/15",
    )

    html = page(client, project, deployment)

    assert (
        '<a href="https://jira.example/browse/SHOP-7" rel="noopener">SHOP-7</a> Totals are off by one cent'
        in html
    )
    assert "(Done)" in html
    assert (
        '<a href="https://github.example/acme/shop/issues/15" rel="noopener">#15</a> Search is slow' in html
    )


def test_a_github_revision_links_to_its_commit(client, project):
    make_github(project, "https://api.github.com")
    deployment = deploy(project)
    html = page(client, project, deployment)
    assert f'href="https://github.com/acme/shop/commit/{sha(3)}"' in html
    assert 'id="issue-links"' not in html  # nothing linked: no Issues row


def test_an_uploaded_revision_has_no_commit_link(client, project):
    deployment = deploy(project, source="upload")
    html = page(client, project, deployment)
    assert 'id="commit-link"' not in html


def test_a_link_that_is_not_a_web_address_is_shown_as_text(client, project):
    deployment = deploy(project, source="upload")
    link(deployment, "jira", "OPS-3", title="Tune", url="javascript:alert(1)")
    html = page(client, project, deployment)
    assert "javascript:" not in html
    assert "OPS-3 Tune" in html


def test_an_outsider_gets_a_404(client, project):
    deployment = deploy(project)
    client.force_login(make_member(make_project("other"), "mallory", "owner"))
    assert client.get(f"/p/{project.slug}/deployments/{deployment.pk}/").status_code == 404


def _queries(client, project, deployment) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/p/{project.slug}/deployments/{deployment.pk}/").status_code == 200
    return len(ctx.captured_queries)


def test_issue_links_cost_one_query_however_many_there_are(client, project):
    deployment = deploy(project, source="upload")
    client.force_login(make_member(project, "vera", "viewer"))
    _queries(client, project, deployment)  # warm-up
    without = _queries(client, project, deployment)
    link(deployment, "jira", "SHOP-1")
    one = _queries(client, project, deployment)
    for n in range(2, 30):
        link(deployment, "jira", f"SHOP-{n}")
    many = _queries(client, project, deployment)
    assert one == many == without + 1
