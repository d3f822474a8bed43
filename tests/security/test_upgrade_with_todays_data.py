"""Upgrading a server that holds today's data to the tenant-safe schema keeps what users rely on.

The database is migrated back to before the tenant-safety migrations and filled, through the
historical models, with what a server holds today: a demo-like project with its owner, an uploaded
revision and a finished deployment; a GitHub revision (which agents used to fetch with the project's
token) and an S3 revision; a group whose health check calls a private address the operator allows;
a live host and a deregistered one, both enrolled with the project's registration token. Then every
migration is applied, as `manage.py migrate` does, and each of those is used the way users use it.
"""

from __future__ import annotations

import gc
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aws_fixtures import aws_client
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone
from fakes import github_fake, running, sha
from fleetdeck_testing import require
from test_no_secret_reaches_hosts import BUNDLE, Host

from deployments import engine
from deployments.models import Deployment, DeploymentGroup, Instance, Revision
from deployments.models.fleet import hash_secret

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("integrations", "0002_trigger_target_encrypted"),
    ("deployments", "0008_elastic_load_balancing_invalid"),
]
TOKEN = "fdr_old-registration-token-secret"
LIVE_CREDENTIAL = "fdi_old-live-agent-credential"
GONE_CREDENTIAL = "fdi_old-deregistered-credential"
HEAD = sha(7)


@pytest.fixture(autouse=True)
def _agent_api_in_tests(settings, monkeypatch):
    """As in tests/agent_api: no Redis wake-up subscription, pool connections closed per call."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    yield
    gc.collect()  # thread-pool connections of finished event loops close when collected


@pytest.fixture
def health_endpoint():
    class Ok(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def github():
    with running(github_fake) as fake:
        fake.state.tarball = BUNDLE
        yield fake


@pytest.fixture
def todays_data(aws_env, github, health_endpoint):
    """Today's rows, written through the historical models; then every migration applied."""
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL=postgres://…)")
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    model = apps.get_model

    owner = get_user_model().objects.create_user("demo-owner", password="demo-pass-1234")
    project = model("dashboard", "Project").objects.create(name="Demo", slug="demo", created_by_id=owner.pk)
    model("dashboard", "Membership").objects.create(project=project, user_id=owner.pk, role="owner")
    model("integrations", "GitHubConnection").objects.create(
        project=project, repository="acme/shop", api_url=github.url, token=github.state.token
    )
    model("integrations", "AwsConnection").objects.create(
        project=project, region="us-east-1", endpoint_url=aws_env
    )
    application = model("deployments", "Application").objects.create(name="demo-app", project=project)
    config = model("deployments", "DeploymentConfig").objects.get(name="CodeDeployDefault.AllAtOnce")
    group = model("deployments", "DeploymentGroup").objects.create(
        application=application,
        name="web",
        deployment_config=config,
        tag_filters=[{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}],
        health_check={"url": f"http://{{hostname}}:{health_endpoint}/health", "threshold": 1},
    )
    model("deployments", "DeploymentGroup").objects.create(  # a fixed host: accepted until now
        application=application,
        name="legacy",
        deployment_config=config,
        tag_filters=[{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}],
        health_check={"url": f"http://127.0.0.1:{health_endpoint}/health", "threshold": 1},
    )
    token = model("deployments", "RegistrationToken").objects.create(
        project=project, token_hash=hash_secret(TOKEN), prefix=TOKEN[:8], tags={"role": "web"}, uses=2
    )
    Instance_ = model("deployments", "Instance")
    live = Instance_.objects.create(
        name="web-1",
        project=project,
        tags={"role": "web"},
        credential_hash=hash_secret(LIVE_CREDENTIAL),
        credential_prefix=LIVE_CREDENTIAL[:8],
        registration_token=token,
    )
    Instance_.objects.create(
        name="web-2",
        project=project,
        tags={"role": "web"},
        credential_hash=hash_secret(GONE_CREDENTIAL),
        credential_prefix=GONE_CREDENTIAL[:8],
        registration_token=token,
        deregistered_at=timezone.now(),
    )
    Revision_ = model("deployments", "Revision")
    bundle_name = default_storage.save(f"bundles/{application.pk}/old.tgz", ContentFile(BUNDLE))
    uploaded = Revision_.objects.create(
        application=application,
        source="upload",
        bundle=bundle_name,
        bundle_type="tgz",
        sha256=hashlib.sha256(BUNDLE).hexdigest(),
        size=len(BUNDLE),
        appspec="version: 0.0\nos: linux\n",
    )
    github_revision = Revision_.objects.create(  # agents fetched these themselves, with the token
        application=application,
        source="github",
        bundle_type="tgz",
        location={"repository": "acme/shop", "commit": HEAD, "ref": "refs/heads/main"},
    )
    s3 = aws_client("s3", aws_env)
    s3.create_bucket(Bucket="demo-releases")
    etag = s3.put_object(Bucket="demo-releases", Key="app.tgz", Body=BUNDLE)["ETag"].strip('"')
    s3_revision = Revision_.objects.create(
        application=application,
        source="s3",
        bundle_type="tgz",
        location={"bucket": "demo-releases", "key": "app.tgz", "etag": etag},
    )
    done = timezone.now()
    finished = model("deployments", "Deployment").objects.create(
        id="d-DEMO00001",
        application=application,
        deployment_group=group,
        revision=uploaded,
        deployment_config=config,
        file_exists_behavior="DISALLOW",
        status="Succeeded",
        created_by_id=owner.pk,
        started_at=done,
        ended_at=done,
    )
    model("deployments", "DeploymentTarget").objects.create(
        deployment=finished, instance=live, position=0, batch=0, status="Succeeded"
    )
    executor = MigrationExecutor(connection)
    executor.migrate(leaves)
    return {
        "owner": owner,
        "group": DeploymentGroup.objects.get(pk=group.pk),
        "legacy": DeploymentGroup.objects.get(name="legacy"),
        "revisions": {
            "github": Revision.objects.get(pk=github_revision.pk),
            "s3": Revision.objects.get(pk=s3_revision.pk),
        },
    }


def old_agent(credential: str) -> Host:
    host = Host()
    host.credential = credential
    return host


def test_the_demo_project_and_its_history_are_there_for_its_owner(todays_data):
    browser = Client()
    assert browser.login(username="demo-owner", password="demo-pass-1234")
    for page in ("/p/demo/", "/p/demo/deployments/", "/p/demo/deployments/d-DEMO00001/"):
        assert browser.get(page).status_code == 200, page
    answer = browser.get("/api/v1/deployments/d-DEMO00001/")
    assert answer.status_code == 200 and answer.json()["status"] == "Succeeded"
    stranger = get_user_model().objects.create_user("someone-else", password="other-pass-1234")
    outsider = Client()
    outsider.force_login(stranger)
    assert outsider.get("/p/demo/").status_code == 404, "the migrated project is still its owner's only"


@pytest.mark.parametrize("source", ["github", "s3"])
def test_old_revisions_deploy_to_the_old_agent_with_no_secret_sent(
    todays_data, github, aws_env, settings, source
):
    settings.AWS_DEFAULT_CREDENTIALS = ["demo"]  # the operator lets this project use the server's AWS keys
    settings.OUTBOUND_ALLOW = ["127.0.0.0/8"]  # and the hosts' range (here loopback) for health checks
    revision = todays_data["revisions"][source]
    deployment = engine.create_deployment(group=todays_data["group"], revision=revision)
    host = old_agent(LIVE_CREDENTIAL)  # the agent keeps the credential it had before the upgrade
    assert host.run(deployment.id) == "Succeeded", Deployment.objects.get(pk=deployment.id).error_message
    (downloaded,) = host.downloads
    command, data = downloaded
    assert data == BUNDLE
    assert "token" not in command
    health = Deployment.objects.get(pk=deployment.id).event_log.filter(message__icontains="health")
    assert health.exists(), "the group's health check on the host's private address ran and passed"
    assert github.state.token.encode() not in b"".join(host.answers.values())
    if source == "github":
        assert command["url"] == f"http://testserver/agent/v1/bundles/{revision.pk}/", (
            "the server fetched the archive; the host downloads it from the server"
        )
        assert len(github.requests_to("GET", f"/repos/acme/shop/tarball/{HEAD}")) == 1
    else:
        assert command["url"].startswith(aws_env)
        assert "X-Amz-Signature" in command["url"], "a presigned, short-lived S3 URL"


def test_a_health_check_with_a_fixed_host_fails_the_deployment_at_once_saying_what_to_change(
    todays_data, settings
):
    settings.AWS_DEFAULT_CREDENTIALS = ["demo"]
    deployment = engine.create_deployment(
        group=todays_data["legacy"], revision=todays_data["revisions"]["s3"]
    )
    deployment.refresh_from_db()
    assert (deployment.status, deployment.error_code) == ("Failed", "HEALTH_CONSTRAINTS_INVALID")
    assert "{hostname}" in deployment.error_message and "legacy" in deployment.error_message
    assert not deployment.targets.exists(), "no host was touched"


def test_a_deregistered_host_stays_out_and_registering_its_name_again_makes_a_new_instance(todays_data):
    gone = Instance.objects.get(name="web-2")
    assert (
        old_agent(GONE_CREDENTIAL)
        .client.post(
            "/agent/v1/poll/?wait=0",
            {},
            content_type="application/json",
            headers={"Authorization": f"Bearer {GONE_CREDENTIAL}"},
        )
        .status_code
        == 401
    )
    answer = Client().post(
        "/agent/v1/register/", {"token": TOKEN, "name": "web-2"}, content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    again = Instance.objects.get(name="web-2", deregistered_at__isnull=True)
    assert again.pk != gone.pk and again.tags == {"role": "web"}
    taken = Client().post(
        "/agent/v1/register/", {"token": TOKEN, "name": "web-1"}, content_type="application/json"
    )
    assert taken.status_code == 409 and b"deregister" in taken.content.lower()
    kept = Client().post(  # a re-install of the live host presents its credential and keeps its identity
        "/agent/v1/register/",
        {"token": TOKEN, "name": "web-1"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {LIVE_CREDENTIAL}"},
    )
    assert kept.status_code in (200, 201), kept.content
    assert Instance.objects.filter(name="web-1").count() == 1
