"""GitHub revisions: the server fetches the commit's archive itself (hosts never see the token), and
secrets stay out of logs."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid

import pytest
from factories import (
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
from fakes import MINIMAL_TARBALL, FakeServer, sha, tarball_of

from deployments import engine, integration_points
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


def test_a_github_revision_is_fetched_once_by_the_server_and_stored_like_an_upload(github):
    project = make_project()
    app = make_app(project=project)
    make_github(project, github.url)
    make_instance("web-1", project=project, role="web")
    make_instance("web-2", project=project, role="web")
    revision = github_revision(app)
    deployment = engine.create_deployment(group=make_group(app, "web"), revision=revision)
    deployment.refresh_from_db()
    assert deployment.status == "InProgress"
    revision.refresh_from_db()
    assert revision.bundle.read() == MINIMAL_TARBALL
    assert revision.size == len(MINIMAL_TARBALL)
    assert revision.sha256 == hashlib.sha256(MINIMAL_TARBALL).hexdigest()
    assert revision.bundle_type == "tgz" and "version: 0.0" in revision.appspec
    assert revision.bundle.name.startswith(f"bundles/{app.pk}/"), "where uploads go, for retention"
    (fetch,) = github.requests_to("GET", f"/repos/acme/shop/tarball/{HEAD}")
    assert fetch.headers["authorization"] == f"token {GITHUB_TOKEN}"
    assert integration_points.revision_download(revision) is None, "agents are given no GitHub URL or token"


def test_the_token_is_not_sent_on_when_github_redirects_the_download_elsewhere(github):
    # api.github.com answers a tarball request with a redirect to codeload.github.com.
    codeload = FakeServer().start()
    try:
        codeload.route("GET", "/acme/shop/legacy.tar.gz/(.+)", lambda req, m: (200, MINIMAL_TARBALL))
        redirect = {"Location": f"{codeload.url}/acme/shop/legacy.tar.gz/{HEAD}"}
        github.routes.insert(
            0, ("GET", re.compile(f"^/repos/acme/shop/tarball/{HEAD}$"), lambda req, m: (302, b"", redirect))
        )
        project = make_project()
        app = make_app(project=project)
        make_github(project, github.url)
        make_instance("web-1", project=project, role="web")
        revision = github_revision(app)
        engine.create_deployment(group=make_group(app, "web"), revision=revision)
    finally:
        codeload.stop()
    revision.refresh_from_db()
    assert revision.sha256 == hashlib.sha256(MINIMAL_TARBALL).hexdigest()
    (asked,) = github.requests_to("GET", f"/repos/acme/shop/tarball/{HEAD}")
    assert asked.headers["authorization"] == f"token {GITHUB_TOKEN}"
    (followed,) = codeload.requests
    assert "authorization" not in followed.headers


@pytest.mark.django_db(transaction=False)  # so the commit callbacks wait for the test to run them
def test_a_deployment_waits_in_queued_until_the_server_holds_the_archive(
    github, django_capture_on_commit_callbacks
):
    project = make_project()
    app = make_app(project=project)
    make_github(project, github.url)
    make_instance("web-1", project=project, role="web")
    with django_capture_on_commit_callbacks() as callbacks:
        deployment = engine.create_deployment(group=make_group(app, "web"), revision=github_revision(app))
    assert Deployment.objects.get(pk=deployment.pk).status == "Queued"
    assert "fetch" in deployment.event_log.filter(kind="deployment").order_by("seq").last().message
    assert not github.requests, "no web request waited on GitHub"
    for callback in callbacks:
        callback()
    assert Deployment.objects.get(pk=deployment.pk).status == "InProgress"


def test_two_groups_deploying_one_commit_share_one_fetch(github):
    project = make_project()
    app = make_app(project=project)
    make_github(project, github.url)
    make_instance("web-1", project=project, role="web")
    make_instance("api-1", project=project, role="api")
    revision = github_revision(app)
    for name in ("web", "api"):
        engine.create_deployment(group=make_group(app, name), revision=revision)
    assert sorted(Deployment.objects.values_list("status", flat=True)) == ["InProgress", "InProgress"]
    assert len(github.requests_to("GET", "/repos/acme/shop/tarball/.*")) == 1


def test_two_workers_fetching_one_revision_at_once_ask_github_once(github):
    import threading

    from django.db import connection

    from deployments.rollout import fetching

    project = make_project()
    make_github(project, github.url)
    revision = github_revision(make_app(project=project))
    github.delay = 0.5  # the first fetch is still running when the second worker starts

    def worker():
        try:
            fetching.fetch(revision.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(github.requests_to("GET", "/repos/acme/shop/tarball/.*")) == 1
    revision.refresh_from_db()
    assert revision.sha256 == hashlib.sha256(MINIMAL_TARBALL).hexdigest()
    fetching.fetch(revision.pk)  # the sweep sends it again later: the archive is held, nothing is asked
    assert len(github.requests_to("GET", "/repos/acme/shop/tarball/.*")) == 1


@pytest.mark.parametrize(
    ("fake", "code", "words"),
    [
        ({"token": "another-token"}, "REVISION_MISSING", ["HTTP 404", "token cannot read"]),
        ({"fail_status": 502}, "REVISION_MISSING", ["HTTP 502", "Deploy again once GitHub answers"]),
        ({"tarball": b"<html>not an archive</html>"}, "INVALID_REVISION", ["not a usable bundle"]),
        (
            {"tarball": tarball_of({"README": "no appspec here"})},
            "INVALID_REVISION",
            ["not a usable bundle", "appspec.yml"],
        ),
    ],
)
def test_a_fetch_that_fails_fails_the_deployment_with_a_code_and_a_reason(github, fake, code, words):
    for key, value in fake.items():
        setattr(github if key == "fail_status" else github.state, key, value)
    project = make_project()
    app = make_app(project=project)
    make_github(project, github.url)
    make_instance("web-1", project=project, role="web")
    revision = github_revision(app)
    deployment = engine.create_deployment(group=make_group(app, "web"), revision=revision)
    deployment.refresh_from_db()
    assert (deployment.status, deployment.error_code) == ("Failed", code)
    assert all(word in deployment.error_message for word in words), deployment.error_message
    assert HEAD[:12] in deployment.error_message
    revision.refresh_from_db()
    assert not revision.bundle and not revision.sha256, "nothing of a failed fetch is kept"


def test_a_failed_fetch_lets_the_next_queued_deployment_start(github):
    project = make_project()
    app = make_app(project=project)
    make_github(project, github.url)
    make_instance("web-1", project=project, role="web")
    group = make_group(app, "web")
    running = engine.create_deployment(group=group, revision=github_revision(app))
    github.state.token = "rotated"  # the next fetch is refused
    doomed = engine.create_deployment(group=group, revision=github_revision(app, sha(2)))
    upload = Revision.objects.create(application=app, bundle_type="tgz", sha256="a" * 64, size=10)
    after = engine.create_deployment(group=group, revision=upload)
    finish(running.id)
    statuses = {d.pk: (d.status, d.error_code) for d in Deployment.objects.all()}
    assert statuses[doomed.pk] == ("Failed", "REVISION_MISSING")
    assert statuses[after.pk][0] == "InProgress"


def test_a_github_revision_without_a_connection_fails_its_deployment_with_revision_missing(github):
    project = make_project()
    app = make_app(project=project)
    make_instance("web-1", project=project, role="web")
    deployment = engine.create_deployment(group=make_group(app, "web"), revision=github_revision(app))
    deployment.refresh_from_db()
    assert (deployment.status, deployment.error_code) == ("Failed", "REVISION_MISSING")
    assert "no GitHub connection" in deployment.error_message


def test_other_revisions_are_not_fetched_by_the_server(github):
    project = make_project()
    make_github(project, github.url)
    upload = Revision.objects.create(
        application=make_app(project=project), bundle_type="tgz", sha256="a" * 64
    )
    assert integration_points.revision_download(upload) is None
    make_instance("web-1", project=project, role="web")
    engine.create_deployment(group=make_group(upload.application, "web"), revision=upload)
    assert not github.requests


def test_the_commit_links_to_its_github_page(github):
    project = make_project()
    make_github(project, "https://api.github.com")
    revision = github_revision(make_app(project=project))
    assert integration_points.commit_url(revision) == f"https://github.com/acme/shop/commit/{sha(3)}"


def test_no_secret_reaches_the_logs_through_a_whole_push_to_success(github, jira, receiver, caplog, client):
    import hashlib
    import hmac
    import json

    from integrations.models import Trigger

    caplog.set_level(logging.DEBUG)
    project = make_project("shop")
    group = make_group(make_app(project=project), "web")
    make_instance("web-1", project=project, role="web")
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
