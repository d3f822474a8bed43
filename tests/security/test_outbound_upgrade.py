"""Upgrading a database that holds today's data: AWS connections get distinct external IDs and keep
working where the operator allows the server's credentials, and a group's `{hostname}` health check
keeps working once the instance's agent has polled (which records the address it connects from)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from deployments import healthcheck
from deployments.models import Instance
from deployments.models.fleet import hash_secret
from integrations.aws.client import for_project
from integrations.models import AwsConnection

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("integrations", "0002_trigger_target_encrypted"),
    ("deployments", "0008_elastic_load_balancing_invalid"),
]


@pytest.fixture(autouse=True)
def _close_pool_connections(monkeypatch):
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.fixture
def old_data():
    """Rows as today's schema holds them, then every migration of this branch applied."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Project = apps.get_model("dashboard", "Project")
    for slug in ("shop", "blog"):
        project = Project.objects.create(name=slug, slug=slug)
        apps.get_model("integrations", "AwsConnection").objects.create(project=project, region="us-east-1")
    shop = Project.objects.get(slug="shop")
    application = apps.get_model("deployments", "Application").objects.create(name="shop", project=shop)
    apps.get_model("deployments", "DeploymentGroup").objects.create(
        application=application,
        name="web",
        deployment_config=apps.get_model("deployments", "DeploymentConfig").objects.get(
            name="CodeDeployDefault.AllAtOnce"
        ),
        health_check={"url": "http://{hostname}:PORT/health", "threshold": 1},
    )
    apps.get_model("deployments", "Instance").objects.create(
        name="web-1",
        project=shop,
        hostname="web-1.internal",
        credential_hash=hash_secret("fdi_old-agent-credential"),
        credential_prefix="fdi_old-",
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    return shop


def test_existing_aws_connections_get_their_own_external_ids_and_work_where_allowed(
    old_data, aws_env, settings
):
    ids = list(AwsConnection.objects.values_list("external_id", flat=True))
    assert all(ids) and len(set(ids)) == 2
    settings.AWS_DEFAULT_CREDENTIALS = ["shop"]
    shop = AwsConnection.objects.get(project__slug="shop")
    AwsConnection.objects.filter(pk=shop.pk).update(endpoint_url=aws_env)
    assert for_project(shop.project_id).caller_identity()["Account"]
    blog = AwsConnection.objects.get(project__slug="blog")
    with pytest.raises(Exception, match="FLEETDECK_AWS_DEFAULT_CREDENTIALS"):
        for_project(blog.project_id)


def test_an_existing_hostname_health_check_works_once_the_agent_has_polled(old_data, settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.0/8"]  # the operator allows the hosts' range (here: loopback)

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        template = f"http://{{hostname}}:{server.server_address[1]}/health"
        assert healthcheck.template_problem(template) is None
        instance = Instance.objects.get(name="web-1")
        assert instance.peer_address is None
        with pytest.raises(ValueError, match="next poll"):
            healthcheck.target(template, name="web-1", hostname=instance.hostname, peer_address=None, tags={})
        response = Client().post(
            "/agent/v1/poll/?wait=0",
            {},
            content_type="application/json",
            headers={"Authorization": "Bearer fdi_old-agent-credential"},
        )
        assert response.status_code == 200
        instance.refresh_from_db()
        url, peer = healthcheck.target(
            template, name="web-1", hostname=instance.hostname, peer_address=instance.peer_address, tags={}
        )
        assert peer == "127.0.0.1"
        assert healthcheck.check({"interval": 0.05, "threshold": 1, "timeout": 2}, url, peer=peer).ok
    finally:
        server.shutdown()
        server.server_close()
