"""The GitHub push webhook: signatures, replays and auto-deploys."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
from django.test import Client
from factories import WEBHOOK_SECRET, make_app, make_github, make_group, make_instance, make_project
from fakes import sha

from deployments.models import Deployment, Revision
from integrations.models import AutoDeployRule, GitHubDelivery

pytestmark = pytest.mark.django_db(transaction=True)
COMMIT = sha(3)  # where the fake's main is: the webhook deploys the head GitHub reports
URL = "/integrations/github/shop/webhook"


@pytest.fixture
def setup(github):
    project = make_project("shop")
    group = make_group(make_app(project=project), "production")
    make_instance("web-1", project=project, role="production")
    connection = make_github(project, github.url)
    AutoDeployRule.objects.create(connection=connection, branch="main", group=group)
    return group


def push(branch="main", commit=COMMIT):
    return {
        "ref": f"refs/heads/{branch}",
        "after": commit,
        "deleted": False,
        "repository": {"full_name": "acme/shop"},
        "pusher": {"name": "ada"},
        "head_commit": {"id": commit, "message": "Fix totals, fixes #12"},
    }


def send(payload, *, secret=WEBHOOK_SECRET, delivery=None, signature=None, event="push"):
    body = json.dumps(payload).encode()
    headers = {"HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": delivery or str(uuid.uuid4())}
    if signature is None and secret is not None:
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    return Client().post(URL, body, content_type="application/json", **headers)


def test_a_signed_push_to_a_ruled_branch_starts_a_deployment(setup):
    response = send(push())
    assert response.status_code == 200
    (deployment,) = Deployment.objects.all()
    assert response.json()["deployments"] == [deployment.id]
    assert deployment.deployment_group == setup
    assert deployment.creator == "user"
    assert deployment.description == "push to main by ada"
    revision = deployment.revision
    assert revision.source == "github" and revision.bundle_type == "tgz"
    assert revision.location == {"repository": "acme/shop", "commit": COMMIT, "ref": "refs/heads/main"}
    assert revision.hook_environment() == {"BUNDLE_COMMIT": COMMIT}


def test_a_bad_signature_gets_401_and_creates_nothing(setup):
    response = send(push(), secret="wrong secret")
    assert response.status_code == 401
    assert (
        not Deployment.objects.exists()
        and not Revision.objects.exists()
        and not GitHubDelivery.objects.exists()
    )


def test_a_missing_signature_gets_401_and_creates_nothing(setup):
    response = send(push(), secret=None)
    assert response.status_code == 401
    assert not Deployment.objects.exists() and not GitHubDelivery.objects.exists()


def test_a_sha1_signature_is_not_enough(setup):
    body = json.dumps(push()).encode()
    sha1 = "sha1=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert send(push(), signature=sha1).status_code == 401


def test_an_unknown_project_looks_the_same_as_a_bad_signature(setup):
    """The same request to a real project (wrong secret) and to no project gets the same answer, whole:
    status, body and every header, so the webhook URL cannot be used to find out which projects exist."""

    def answer(slug):
        body = json.dumps(push()).encode()
        signature = "sha256=" + hmac.new(b"wrong secret", body, hashlib.sha256).hexdigest()
        response = Client().post(
            f"/integrations/github/{slug}/webhook",
            body,
            content_type="application/json",
            HTTP_X_GITHUB_EVENT="push",
            HTTP_X_GITHUB_DELIVERY="d1",
            HTTP_X_HUB_SIGNATURE_256=signature,
        )
        return response.status_code, response.content, dict(response.headers)

    bad_signature, unknown_project = answer("shop"), answer("nope")
    assert bad_signature[0] == 401
    assert unknown_project == bad_signature
    assert not GitHubDelivery.objects.exists()


def test_a_replayed_delivery_is_ignored(setup):
    delivery = str(uuid.uuid4())
    assert send(push(), delivery=delivery).status_code == 200
    second = send(push(), delivery=delivery)
    assert second.status_code == 200 and second.json()["replay"] is True
    assert Deployment.objects.count() == 1 and GitHubDelivery.objects.count() == 1


def test_a_push_to_a_branch_without_a_rule_is_logged_but_deploys_nothing(setup):
    response = send(push("feature/x"))
    assert response.status_code == 200
    assert not Deployment.objects.exists()
    assert GitHubDelivery.objects.get().result == "No auto-deploy rule for feature/x."


def test_a_branch_deletion_deploys_nothing(setup):
    payload = push(commit="0" * 40)
    payload["deleted"] = True
    assert send(payload).status_code == 200
    assert not Deployment.objects.exists()


def test_a_ping_is_acknowledged(setup):
    response = send({"zen": "Keep it logically awesome."}, event="ping")
    assert response.status_code == 200 and not Deployment.objects.exists()


def test_a_form_encoded_push_works_too(setup):
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(push())}).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = Client().post(
        URL,
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_GITHUB_DELIVERY=str(uuid.uuid4()),
        HTTP_X_HUB_SIGNATURE_256=signature,
    )
    assert response.status_code == 200 and Deployment.objects.count() == 1
