"""Signed but malformed GitHub push payloads: a 4xx or a harmless 200, never a 500, nothing half-made.

The signature keeps strangers out; these are bodies a buggy proxy, a replay tool or GitHub itself
could send with a valid signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import uuid
from pathlib import Path

import pytest
from django.test import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))
from factories import WEBHOOK_SECRET, make_app, make_github, make_group, make_project
from fakes import github_fake, running

from deployments.models import Deployment, Revision
from integrations.models import AutoDeployRule, GitHubDelivery

URL = "/integrations/github/shop/webhook"
GOOD = {"ref": "refs/heads/main", "after": "a" * 40, "repository": {"full_name": "acme/shop"}}


@pytest.fixture
def github():
    """The local GitHub fake: a signed push goes all the way, through the branch-head look-up."""
    with running(github_fake) as fake:
        yield fake


@pytest.fixture
def connection(db, github):
    project = make_project("shop")
    connection = make_github(project, github.url)
    AutoDeployRule.objects.create(
        connection=connection, branch="main", group=make_group(make_app(project=project))
    )
    return connection


def send(body: bytes):
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return Client().post(
        URL,
        body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_GITHUB_DELIVERY=str(uuid.uuid4()),
        HTTP_X_HUB_SIGNATURE_256=signature,
    )


HOSTILE = {
    "ref is a number": {**GOOD, "ref": 5},
    "ref is a list": {**GOOD, "ref": ["refs/heads/main"]},
    "after is a number": {**GOOD, "after": 12345},
    "after is an object": {**GOOD, "after": {"sha": "a"}},
    "pusher is a string": {**GOOD, "pusher": "ada"},
    "sender is a list": {**GOOD, "sender": ["ada"]},
    "repository is a string": {**GOOD, "repository": "acme/shop"},
    "full_name is a list": {**GOOD, "repository": {"full_name": ["acme/shop"]}},
    "full_name is huge": {**GOOD, "repository": {"full_name": "x" * 100_000}},
    "head_commit is a list": {**GOOD, "head_commit": ["fix"]},
    "message is a number": {**GOOD, "head_commit": {"message": 7}},
    "NUL in the ref": {**GOOD, "ref": "refs/heads/ma\x00in"},
    "NUL in the commit": {**GOOD, "after": "a\x00" * 20},
    "NUL in the message": {**GOOD, "head_commit": {"message": "fix\x00"}},
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_signed_malformed_push_gets_no_500(connection, case):
    response = send(json.dumps(HOSTILE[case]).encode())
    assert response.status_code < 500, response.content[:300]
    assert response.json()["detail"]


@pytest.mark.parametrize("repository", ["acme/shop ", "acme/shop/../evil", "acme/shop\u202e", "evil/shop"])
def test_a_signed_push_for_a_lookalike_repository_is_refused_and_creates_nothing(
    connection, github, repository
):
    response = send(json.dumps({**GOOD, "repository": {"full_name": repository}}).encode())
    assert response.status_code == 403, response.content[:300]
    assert not Revision.objects.exists() and not Deployment.objects.exists()
    assert GitHubDelivery.objects.get().deployments == []
    assert not github.requests, "a refused push asks GitHub nothing"


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000])
def test_a_signed_body_nested_too_deeply_is_a_400(connection, body):
    response = send(body)
    assert response.status_code == 400
    assert not Revision.objects.exists()
    assert not Deployment.objects.exists()
