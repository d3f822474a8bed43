"""GitHub and JIRA tile providers, rendered through the dashboard's tile framework."""

from __future__ import annotations

import pytest
from factories import make_app, make_github, make_group, make_jira, make_project
from fakes import sha

from dashboard import tiles
from deployments.models import Deployment, Revision

pytestmark = pytest.mark.django_db


def tile(key: str):
    return next(t for t in tiles.registered() if t.key == key)


@pytest.fixture
def project():
    return make_project("shop")


def test_the_repository_tile_lists_recent_commits_of_the_default_branch(project, github):
    make_github(project, github.url)
    rendered = tiles.render_tile(tile("repository"), project)
    assert rendered.state == "ok"
    assert [i["title"] for i in rendered.context["items"]] == [
        "Speed up search (#15)",
        "Fix checkout totals, fixes #12 and SHOP-7",
        "Start the shop",
    ]
    assert rendered.context["branch"] == "main"
    assert rendered.context["branches"] == ["main", "develop"]


def test_the_branch_selector_picks_another_branch(project, github):
    github.state.commits.extend({"sha": sha(n), "message": f"dev {n}"} for n in range(4, 10))
    make_github(project, github.url)
    rendered = tiles.render_tile(tile("repository"), project, {"branch": "develop"})
    assert rendered.context["branch"] == "develop"
    assert rendered.context["items"][0]["title"] == "dev 9"


def test_an_unconnected_project_shows_not_connected(project):
    assert tiles.render_tile(tile("repository"), project).state == "not_connected"
    assert tiles.render_tile(tile("build"), project).state == "not_connected"
    assert tiles.render_tile(tile("issues"), project).state == "not_connected"


def test_the_build_tile_shows_the_combined_status_and_check_runs(project, github):
    github.state.check_runs.append({"name": "e2e", "status": "completed", "conclusion": "failure"})
    make_github(project, github.url)
    rendered = tiles.render_tile(tile("build"), project)
    titles = [i["title"] for i in rendered.context["items"]]
    assert titles[0] == "main: failing"  # a failing check run wins over a green combined status
    assert "ci/lint: success" in titles and "tests: success" in titles and "e2e: failure" in titles


def test_the_build_tile_also_shows_each_groups_deployed_commit(project, github):
    make_github(project, github.url)
    app = make_app(project=project)
    group = make_group(app, "production")
    revision = Revision.objects.create(
        application=app,
        source="github",
        bundle_type="tgz",
        location={"repository": "acme/shop", "commit": sha(2)},
    )
    Deployment.objects.create(
        application=app,
        deployment_group=group,
        revision=revision,
        deployment_config=group.deployment_config,
        status="Succeeded",
        file_exists_behavior="DISALLOW",
    )
    titles = [i["title"] for i in tiles.render_tile(tile("build"), project).context["items"]]
    assert "production (deployed): passing" in titles
    assert github.requests_to("GET", f"/repos/acme/shop/commits/{sha(2)}/status")


def test_the_issues_tile_lists_open_github_issues(project, github):
    make_github(project, github.url)
    rendered = tiles.render_tile(tile("issues"), project)
    assert [i["title"] for i in rendered.context["items"]] == [
        "#12 Checkout totals are wrong",
        "#15 Search is slow",
        "#20 Dark mode",
    ]


def test_the_issues_tile_runs_the_jql_on_jira_when_connected(project, jira):
    make_jira(project, jira.url, jql="project = SHOP")
    rendered = tiles.render_tile(tile("issues"), project)
    assert rendered.state == "ok"
    assert rendered.context["items"][0] == {
        "title": "SHOP-7 Totals are off by one cent",
        "url": f"{jira.url}/browse/SHOP-7",
        "meta": "In Progress",
    }
    (search,) = jira.requests_to("GET", "/rest/api/2/search")
    assert search.query["jql"] == ["project = SHOP"]


def test_jira_cloud_uses_the_current_search_endpoint_and_basic_auth(project, jira):
    make_jira(project, jira.url, auth="cloud", email="bot@acme.example")
    assert tiles.render_tile(tile("issues"), project).state == "ok"
    (search,) = jira.requests_to("GET", "/rest/api/2/search/jql")
    assert search.headers["authorization"].startswith("Basic ")


def test_a_github_500_shows_the_error_state(project, github):
    make_github(project, github.url)
    github.fail_status = 500
    rendered = tiles.render_tile(tile("repository"), project)
    assert rendered.state == "error"
    assert tiles.render_tile(tile("build"), project).state == "error"


def test_a_slow_github_times_out_into_the_error_state(project, github):
    import time

    make_github(project, github.url)
    github.delay = 3  # the interactive timeout is 1 s in these tests
    started = time.monotonic()
    assert tiles.render_tile(tile("repository"), project).state == "error"
    assert time.monotonic() - started < 2.9


def test_a_jira_500_shows_the_error_state(project, jira):
    make_jira(project, jira.url)
    jira.fail_status = 500
    assert tiles.render_tile(tile("issues"), project).state == "error"


def test_the_project_page_still_renders_when_github_is_down(project, github, client):
    from django.contrib.auth import get_user_model

    from projects.models import Membership

    user = get_user_model().objects.create_user("olivia", password="pw")
    Membership.objects.create(project=project, user=user, role="owner")
    make_github(project, github.url)
    github.fail_status = 500
    client.force_login(user)
    response = client.get("/p/shop/")
    assert response.status_code == 200
    assert 'data-state="error"' in response.content.decode()
