"""The GitHub push webhook deploys only the project's own repository, only the branch head GitHub
reports now, and a signed body replayed later (with a new delivery id) deploys nothing new.

GitHub is the local fake of tests/integrations/fakes.py; the worker's tasks run eagerly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
from django.test import Client
from factories import WEBHOOK_SECRET, make_app, make_github, make_group, make_instance, make_project
from fakes import github_fake, running, sha

from deployments.models import Deployment, Revision
from integrations.models import AutoDeployRule, GitHubDelivery

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/integrations/github/shop/webhook"


@pytest.fixture
def github():
    with running(github_fake) as fake:
        yield fake


@pytest.fixture
def group(github):
    project = make_project("shop")
    group = make_group(make_app(project=project), "production")
    make_instance("web-1", project=project, role="production")
    AutoDeployRule.objects.create(connection=make_github(project, github.url), branch="main", group=group)
    return group


def push(commit: str, *, repository: str | None = "acme/shop", forced: bool = False) -> dict:
    payload = {
        "ref": "refs/heads/main",
        "after": commit,
        "deleted": False,
        "forced": forced,
        "pusher": {"name": "ada"},
        "head_commit": {"id": commit, "message": "a change"},
    }
    if repository is not None:
        payload["repository"] = {"full_name": repository}
    return payload


def send(payload: dict, delivery: str | None = None):
    body = json.dumps(payload).encode()
    return Client().post(
        URL,
        body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_GITHUB_DELIVERY=delivery or str(uuid.uuid4()),
        HTTP_X_HUB_SIGNATURE_256="sha256="
        + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest(),
    )


def deployed_commits() -> list[str]:
    return [d.revision.location["commit"] for d in Deployment.objects.order_by("created_at")]


def test_a_signed_push_for_another_repository_is_refused_logged_and_deploys_nothing(group, github):
    response = send(push(sha(3), repository="mallory/payload"))
    assert response.status_code == 403
    assert "mallory/payload" in response.json()["detail"] and "acme/shop" in response.json()["detail"]
    delivery = GitHubDelivery.objects.get()
    assert "mallory/payload" in delivery.result and delivery.deployments == []
    assert not Revision.objects.exists() and not Deployment.objects.exists()
    assert not github.requests_to("GET", "/repos/.*"), "nothing was asked of GitHub for a refused push"


def test_the_repository_name_is_compared_without_case(group, github):
    response = send(push(sha(3), repository="ACME/Shop"))
    assert response.status_code == 200 and deployed_commits() == [sha(3)]


def test_a_push_that_names_no_repository_is_refused(group):
    response = send(push(sha(3), repository=None))
    assert response.status_code == 403
    assert not Deployment.objects.exists()
    assert "names no repository" in GitHubDelivery.objects.get().result


def test_the_commit_deployed_is_the_branch_head_github_reports_not_the_bodys(group, github):
    assert github.state.branches["main"] == sha(3)
    response = send(push(sha(1)))  # the body claims an old commit
    assert response.status_code == 200
    assert deployed_commits() == [sha(3)]
    assert github.requests_to("GET", "/repos/acme/shop/branches/main")
    assert GitHubDelivery.objects.get().commit == sha(3)


def test_a_replayed_body_with_a_new_delivery_id_deploys_nothing_new(group):
    body = push(sha(3))
    assert send(body).json()["deployments"]
    again = send(body)
    assert again.status_code == 200 and again.json()["deployments"] == []
    assert deployed_commits() == [sha(3)]
    latest = GitHubDelivery.objects.order_by("-received_at", "-id").first()
    assert "already" in latest.result and sha(3)[:12] in latest.result


def test_an_old_body_replayed_after_a_newer_push_does_not_roll_production_back(group, github):
    github.state.branches["main"] = sha(2)
    old_body = push(sha(2))
    send(old_body)
    github.state.branches["main"] = sha(3)
    send(push(sha(3)))
    replay = send(old_body)
    assert replay.status_code == 200 and replay.json()["deployments"] == []
    assert deployed_commits() == [sha(2), sha(3)]


def test_a_revert_by_force_push_to_an_older_commit_still_deploys(group, github):
    send(push(sha(3)))
    github.state.branches["main"] = sha(2)  # git push --force origin HEAD~1:main
    response = send(push(sha(2), forced=True))
    assert response.status_code == 200 and len(response.json()["deployments"]) == 1
    assert deployed_commits() == [sha(3), sha(2)]


def test_when_github_cannot_say_where_the_branch_is_nothing_is_deployed_and_it_can_be_redelivered(
    group, github
):
    github.fail_status = 503
    delivery = str(uuid.uuid4())
    response = send(push(sha(3)), delivery=delivery)
    assert response.status_code == 502
    assert "503" in response.json()["detail"] and "main" in response.json()["detail"]
    assert not Deployment.objects.exists() and not Revision.objects.exists()
    # GitHub's "Redeliver" sends the same delivery id: once GitHub answers again, it deploys.
    github.fail_status = None
    again = send(push(sha(3)), delivery=delivery)
    assert again.status_code == 200 and deployed_commits() == [sha(3)]


def test_a_branch_deleted_since_the_push_deploys_nothing(group, github):
    del github.state.branches["main"]
    response = send(push(sha(3)))
    assert response.status_code == 200 and response.json()["deployments"] == []
    assert not Deployment.objects.exists()
    assert "no branch main" in GitHubDelivery.objects.get().result
