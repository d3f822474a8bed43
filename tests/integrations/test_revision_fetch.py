"""What the agent is told to download for GitHub revisions, and that secrets stay out of logs."""

from __future__ import annotations

import logging
import uuid

import pytest
import requests
from fakes import sha
from integration_helpers import (
    GITHUB_TOKEN,
    JIRA_TOKEN,
    WEBHOOK_SECRET,
    finish,
    make_app,
    make_github,
    make_group,
    make_instance,
    make_jira,
    make_project,
)

import integrations.github
from deployments.models import Deployment, Revision
from integrations.models import AutoDeployRule

pytestmark = pytest.mark.django_db(transaction=True)
HEAD = sha(3)


def github_revision(app, commit=HEAD):
    return Revision.objects.create(
        application=app,
        source="github",
        bundle_type="tgz",
        location={"repository": "acme/shop", "commit": commit, "ref": "refs/heads/main"},
    )


def test_a_github_revision_is_fetched_as_the_commits_tarball_with_the_token(github):
    github.state.tarball = b"\x1f\x8b fake tarball"
    project = make_project()
    make_github(project, github.url)
    fetch = integrations.github.revision_fetch(github_revision(make_app(project)))
    assert fetch == {"url": f"{github.url}/repos/acme/shop/tarball/{sha(3)}", "token": GITHUB_TOKEN}
    # What the agent does with it (agent/fleetdeck_agent/fetch.py): "Authorization: token <t>".
    response = requests.get(fetch["url"], headers={"Authorization": f"token {fetch['token']}"}, timeout=5)
    assert response.content == b"\x1f\x8b fake tarball"


def test_other_revisions_have_no_github_fetch(github):
    project = make_project()
    make_github(project, github.url)
    upload = Revision.objects.create(application=make_app(project), bundle_type="tgz", sha256="a" * 64)
    assert integrations.github.revision_fetch(upload) is None
    assert integrations.revision_fetch(upload) is None


def test_the_dispatcher_answers_for_github_revisions(github):
    project = make_project()
    make_github(project, github.url)
    assert integrations.revision_fetch(github_revision(make_app(project)))["token"] == GITHUB_TOKEN


def test_a_github_revision_without_a_connection_has_no_fetch():
    assert integrations.github.revision_fetch(github_revision(make_app(make_project()))) is None


def test_the_commit_links_to_its_github_page(github):
    project = make_project()
    make_github(project, "https://api.github.com")
    revision = github_revision(make_app(project))
    assert integrations.github.commit_url(revision) == f"https://github.com/acme/shop/commit/{sha(3)}"


def test_no_secret_reaches_the_logs_through_a_whole_push_to_success(github, jira, receiver, caplog, client):
    import hashlib
    import hmac
    import json

    from integrations.models import Trigger

    caplog.set_level(logging.DEBUG)
    project = make_project("shop")
    group = make_group(make_app(project), "web")
    make_instance(project, "web-1", role="web")
    AutoDeployRule.objects.create(connection=make_github(project, github.url), branch="main", group=group)
    make_jira(project, jira.url)
    trigger = Trigger.objects.create(
        group=group,
        name="t",
        events=["DeploymentSuccess"],
        target=f"{receiver.url}/hook",
        secret="trigger-secret-x",
    )
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "after": sha(3),
            "pusher": {"name": "ada"},
            "repository": {"full_name": "acme/shop"},
        }
    ).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        "/integrations/github/shop/webhook",
        body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_GITHUB_DELIVERY=str(uuid.uuid4()),
        HTTP_X_HUB_SIGNATURE_256=signature,
    )
    assert response.status_code == 200
    deployment = finish(Deployment.objects.get().id)
    assert deployment.status == "Succeeded"
    assert jira.state.comments and receiver.requests
    for secret in (GITHUB_TOKEN, WEBHOOK_SECRET, JIRA_TOKEN, trigger.secret):
        assert secret not in caplog.text
