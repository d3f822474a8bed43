"""Issue links on deployment, JIRA comments after success, and the GitHub Deployments API."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from factories import (
    finish,
    make_app,
    make_github,
    make_group,
    make_instance,
    make_jira,
    make_project,
)
from fakes import MINIMAL_TARBALL, sha

from deployments import engine, integration_points
from deployments.models import Revision
from integrations.links import references
from integrations.models import IssueLink

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def group(github, jira):
    project = make_project("shop")
    make_github(project, github.url)
    make_jira(project, jira.url)
    group = make_group(make_app(project=project), "web")
    make_instance("web-1", project=project, role="web")
    return group


def deploy(group, commit, ref="refs/heads/main", *, fetched=False):
    """A deployment of a GitHub commit; `fetched`: the server already holds its archive."""
    revision = Revision.objects.create(
        application=group.application,
        source="github",
        bundle_type="tgz",
        location={"repository": "acme/shop", "commit": commit, "ref": ref},
    )
    if fetched:
        revision.bundle.save("fetched.tgz", ContentFile(MINIMAL_TARBALL))
    return engine.create_deployment(group=group, revision=revision, description="push to main by ada")


def test_references_are_found_in_messages():
    numbers, keys = references(
        ["Fix totals, fixes #12 and SHOP-7", "Speed up (#15)", "feature/OPS-3-tune", "UTF-8 acme/shop#99"]
    )
    assert numbers == [12, 15]
    assert keys == ["SHOP-7", "OPS-3", "UTF-8"]


def test_a_deployment_links_the_issues_of_the_commits_since_the_groups_last_success(group, github, jira):
    finish(deploy(group, sha(1)).id)
    deployment = deploy(group, sha(3))
    (compare,) = github.requests_to("GET", f"/repos/acme/shop/compare/{sha(1)}\\.\\.\\.{sha(3)}")
    assert compare
    links = integration_points.issue_links(deployment.id)
    assert [(link["tracker"], link["key"]) for link in links] == [
        ("github", "#12"),
        ("github", "#15"),
        ("jira", "OPS-3"),
        ("jira", "SHOP-7"),
    ]
    shop7 = next(link for link in links if link["key"] == "SHOP-7")
    assert shop7["title"] == "Totals are off by one cent" and shop7["status"] == "In Progress"
    assert shop7["url"] == f"{jira.url}/browse/SHOP-7"
    gh12 = links[0]
    assert gh12["title"] == "Checkout totals are wrong" and gh12["url"].endswith("/issues/12")


def test_a_first_deployment_links_the_head_commit_and_the_branch_name(group, jira):
    jira.state.issues["SHOP-9"] = {"summary": "Branch work", "status": "To Do"}
    deployment = deploy(group, sha(2), ref="refs/heads/feature/SHOP-9-totals")
    keys = {link["key"] for link in integration_points.issue_links(deployment.id)}
    assert keys == {"#12", "SHOP-7", "SHOP-9"}


def test_keys_jira_does_not_know_are_not_linked(group, github, jira):
    github.state.commits[1]["message"] = "Use UTF-8 everywhere for SHOP-7"
    deployment = deploy(group, sha(2))
    assert [link["key"] for link in integration_points.issue_links(deployment.id)] == ["SHOP-7"]


def test_after_success_jira_gets_one_comment_per_linked_issue(group, jira):
    finish(deploy(group, sha(1)).id)
    deployment = finish(deploy(group, sha(3)).id)
    assert deployment.status == "Succeeded"
    assert sorted(c["key"] for c in jira.state.comments) == ["OPS-3", "SHOP-7"]
    assert all(deployment.id in c["body"] and sha(3)[:12] in c["body"] for c in jira.state.comments)
    assert IssueLink.objects.filter(tracker="jira", notified_at__isnull=False).count() == 2


def test_success_can_transition_the_issues(group, jira):
    from integrations.models import JiraConnection

    JiraConnection.objects.update(transition_on_success="Done")
    deployment = finish(deploy(group, sha(2)).id)
    assert deployment.status == "Succeeded"
    assert [(t["key"], str(t["transition"]["id"])) for t in jira.state.transitions] == [("SHOP-7", "31")]


def test_a_failed_deployment_comments_nowhere(group, jira):
    deployment = finish(deploy(group, sha(2)).id, outcome="Failed")
    assert deployment.status == "Failed"
    assert jira.state.comments == []


def test_commenting_twice_is_harmless(group, jira):
    from integrations import links

    deployment = finish(deploy(group, sha(2)).id)
    assert len(jira.state.comments) == 1
    assert links.comment_on_success(deployment.id) == 0
    assert len(jira.state.comments) == 1


def test_github_gets_a_deployment_and_its_statuses_as_ours_progresses(group, github):
    deployment = finish(deploy(group, sha(3)).id)
    (created,) = github.state.deployments
    assert created["ref"] == sha(3) and created["environment"] == "web"
    states = [s["state"] for s in github.state.deployment_statuses]
    assert states[-1] == "success" and "in_progress" in states
    assert all(s["deployment"] == created["id"] for s in github.state.deployment_statuses)
    assert deployment.status == "Succeeded"


def test_a_down_github_does_not_break_the_deployment(group, github):
    # Down after the server fetched the archive: issue links and deployment statuses fail quietly.
    # (Down before the fetch, the deployment fails with REVISION_MISSING: test_revision_fetch.py.)
    github.fail_status = 500
    deployment = finish(deploy(group, sha(3), fetched=True).id)
    assert deployment.status == "Succeeded"
    assert integration_points.issue_links(deployment.id) == [] or all(
        link["tracker"] == "jira" for link in integration_points.issue_links(deployment.id)
    )
