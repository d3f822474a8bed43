"""The Issues tile's tracker is chosen on the project's Integrations page, and the outside tiles say
what connecting them takes (the Build status tile needs the GitHub connection, not "GitHub Actions")."""

from __future__ import annotations

import pytest
from factories import client_for, make_github, make_jira, make_member, make_project

from dashboard import tiles

pytestmark = pytest.mark.django_db


def tile(key: str):
    return next(t for t in tiles.registered() if t.key == key)


@pytest.fixture
def project():
    return make_project("shop")


def test_an_owner_chooses_github_issues_while_jira_is_connected_too(
    project, github, jira, django_capture_on_commit_callbacks
):
    make_github(project, github.url)
    make_jira(project, jira.url)
    owner = client_for(make_member(project, "olivia", "owner"))
    assert tiles.render_tile(tile("issues"), project).context["tracker"] == "jira"
    page = owner.get("/integrations/p/shop/").content.decode()
    assert 'name="issue_tracker" value="github"' in page
    with django_capture_on_commit_callbacks(execute=True):  # the cached tile is dropped after commit
        response = owner.post("/integrations/p/shop/issue-tracker/", {"issue_tracker": "github"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.issue_tracker == "github"
    assert tiles.render_tile(tile("issues"), project).context["tracker"] == "github"


def test_a_tracker_that_is_not_connected_cannot_be_chosen(project, jira):
    make_jira(project, jira.url)
    owner = client_for(make_member(project, "olivia", "owner"))
    response = owner.post("/integrations/p/shop/issue-tracker/", {"issue_tracker": "github"})
    assert response.status_code == 400
    assert "Connect a GitHub repository first" in response.content.decode()
    project.refresh_from_db()
    assert project.issue_tracker == ""


@pytest.mark.parametrize("role", ["contributor", "viewer"])
def test_only_owners_choose_the_tracker(project, role):
    client = client_for(make_member(project, role, role))
    assert client.post("/integrations/p/shop/issue-tracker/", {"issue_tracker": ""}).status_code == 403


def test_outsiders_cannot_tell_the_project_exists(project):
    mallory = client_for(make_member(make_project("elsewhere"), "mallory", "owner"))
    assert mallory.post("/integrations/p/shop/issue-tracker/", {"issue_tracker": ""}).status_code == 404


def test_the_build_tile_says_it_needs_the_github_connection(project):
    rendered = tiles.render_tile(tile("build"), project)
    assert rendered.state == "not_connected"
    assert "GitHub repository" in rendered.message and "check runs" in rendered.message
    assert "GitHub Actions" not in tile("build").connect_hint
    assert (
        tile("build").connect_hint
        == "Connect the GitHub repository: its commit statuses and check runs show here."
    )
