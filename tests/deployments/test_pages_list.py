"""The deployment list: who may see it, its filters, pagination, and a fixed number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import PASSWORD, make_member, make_project, make_revision, make_user
from pages_helpers import setup_group

from deployments.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return make_project()


def seed(group, n: int, user=None, status: str = "Succeeded") -> list[Deployment]:
    """Rows straight into the table: the list only reads them, no rollout is needed."""
    revision = make_revision(group.application)
    return Deployment.objects.bulk_create(
        Deployment(
            application=group.application,
            deployment_group=group,
            revision=revision,
            deployment_config=group.deployment_config,
            status=status,
            created_by=user,
            file_exists_behavior="DISALLOW",
        )
        for _ in range(n)
    )


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)


def list_url(project, **params):
    from urllib.parse import urlencode

    url = reverse("deployment_list", args=[project.slug])
    return f"{url}?{urlencode(params)}" if params else url


@pytest.mark.parametrize("role", ["owner", "contributor", "viewer"])
def test_members_see_the_projects_deployments(client, project, role):
    _, group, _ = setup_group(project)
    mine = seed(group, 2)
    other_project = make_project("other")
    _, other_group, _ = setup_group(other_project)
    theirs = seed(other_group, 1)
    login(client, make_member(project, role=role))

    html = client.get(list_url(project)).content.decode()

    assert all(d.pk in html for d in mine)
    assert theirs[0].pk not in html
    assert ('id="new-deployment"' in html) is (role != "viewer")


def test_an_outsider_gets_a_404_and_anonymous_users_log_in(client, project):
    assert client.get(list_url(project)).status_code == 302
    login(client, make_user())
    assert client.get(list_url(project)).status_code == 404


def test_it_filters_by_group_status_and_creator(client, project):
    _, web, _ = setup_group(project)
    _, api, _ = setup_group(project)
    viewer = make_member(project, role="viewer")
    alice = make_member(project, "alice", "contributor")
    by_alice = seed(web, 1, user=alice)[0]
    failed = seed(web, 1, status="Failed")[0]
    other_group = seed(api, 1)[0]
    login(client, viewer)

    def shown(**params) -> set[str]:
        html = client.get(list_url(project, **params)).content.decode()
        return {d.pk for d in (by_alice, failed, other_group) if d.pk in html}

    assert shown() == {by_alice.pk, failed.pk, other_group.pk}
    assert shown(group=api.pk) == {other_group.pk}
    assert shown(status="Failed") == {failed.pk}
    assert shown(creator=alice.pk) == {by_alice.pk}
    assert shown(group=web.pk, status="Succeeded") == {by_alice.pk}


def test_it_pages_newest_first(client, project):
    _, group, _ = setup_group(project)
    rows = seed(group, 30)
    login(client, make_member(project, role="viewer"))
    first = client.get(list_url(project)).content.decode()
    second = client.get(list_url(project, page=2)).content.decode()
    assert "Page 1 of 2" in first
    assert sum(d.pk in first for d in rows) == 25
    assert sum(d.pk in second for d in rows) == 5


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


# Session, user, project, membership, count, page, host counts, and the filter form's group and
# creator choices.
LIST_QUERIES = 9


def test_the_query_count_stays_the_same_for_10_and_100_deployments(client, project):
    small_project, large_project = project, make_project("large")
    _, small_group, _ = setup_group(small_project)
    _, large_group, _ = setup_group(large_project)
    seed(small_group, 10, user=make_member(small_project, role="contributor"))
    seed(large_group, 100, user=make_member(large_project, role="contributor"))
    viewer = make_member(small_project, role="viewer")
    from projects.models import Membership

    Membership.objects.create(project=large_project, user=viewer, role="viewer")
    login(client, viewer)
    _queries(client, list_url(small_project))

    assert (
        _queries(client, list_url(small_project)) == _queries(client, list_url(large_project)) == LIST_QUERIES
    )
    filtered = list_url(large_project, group=large_group.pk, status="Succeeded")
    assert _queries(client, filtered) == LIST_QUERIES + 1  # the group choice is looked up to validate it
