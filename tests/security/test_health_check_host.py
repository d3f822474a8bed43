"""Issue 14, item 3 (health checks): a health check goes to the address the instance's agent connects
from, never to a host the agent or a contributor names. The URL template sets only scheme, port, path
and query; a forwarding header counts only from a proxy the operator trusts; loopback and metadata
addresses stay refused unless the operator allows them. Real agent-API calls (Django's test client,
whose REMOTE_ADDR is the peer), real deployments (Celery eager) and real HTTP servers on 127.0.0.x.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from factories import finish, make_app, make_group, make_project

from deployments import engine
from deployments.models import DeploymentGroup, Instance, RegistrationToken, Revision

pytestmark = pytest.mark.django_db(transaction=True)

REGISTER = "/agent/v1/register/"
POLL = "/agent/v1/poll/?wait=0"


class Health:
    """An HTTP server on one loopback address answering `status` and recording each request's Host."""

    def __init__(self, address: str, status: int, port: int = 0):
        self.status, self.hosts = status, []
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                health.hosts.append(self.headers.get("Host"))
                self.send_response(health.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _close_pool_connections(monkeypatch):
    """The agent API's thread-pool connections close after each call, so PostgreSQL can drop the test DB."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.fixture
def servers():
    """The instance's real address (127.0.0.1) answers 200; the address it claims (127.0.0.2), 500."""
    real = Health("127.0.0.1", 200)
    claimed = Health("127.0.0.2", 500, port=real.port)
    yield real, claimed
    real.stop()
    claimed.stop()


@pytest.fixture
def project():
    return make_project("shop")


def register(project, hostname: str, remote: str = "127.0.0.1", **headers) -> Instance:
    _, raw = RegistrationToken.issue(project=project, tags={"role": "web"})
    response = Client().post(
        REGISTER,
        {"token": raw, "name": "web-1", "hostname": hostname},
        content_type="application/json",
        REMOTE_ADDR=remote,
        headers=headers,
    )
    assert response.status_code in (200, 201), response.content
    instance = Instance.objects.get(name="web-1")
    instance.raw_credential = response.json()["credential"]
    return instance


def health_checked(project, url: str):
    group = make_group(make_app(f"app{Revision.objects.count()}", project=project), "web")
    DeploymentGroup.objects.filter(pk=group.pk).update(
        health_check={"url": url, "interval": 0.05, "threshold": 1, "timeout": 0.3}
    )
    revision = Revision.objects.create(application=group.application, bundle_type="tgz", sha256="c" * 64)
    return finish(engine.create_deployment(group=group, revision=revision).id)


def test_the_check_goes_to_the_agents_peer_address_not_the_host_it_reports(project, servers, settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.0/8"]  # the operator allows the hosts' range (here: loopback)
    real, claimed = servers
    register(project, hostname="127.0.0.2")
    deployment = health_checked(project, f"http://{{hostname}}:{real.port}/health")
    assert deployment.status == "Succeeded", deployment.error_message
    assert real.hosts and claimed.hosts == []


def test_loopback_peers_stay_refused_unless_the_operator_allows_them(project, servers, settings):
    settings.OUTBOUND_ALLOW = []
    real, _ = servers
    register(project, hostname="127.0.0.1")
    deployment = health_checked(project, f"http://{{hostname}}:{real.port}/health")
    assert deployment.status == "Failed" and "loopback" in deployment.error_message
    assert real.hosts == []


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:6379/", "http://web.internal:8080/health"],
)
def test_a_template_may_not_name_a_host(api_client, user, project, url):
    from projects.models import Membership

    Membership.objects.create(project=project, user=user, role="owner")
    group = make_group(make_app(project=project), "web")
    response = api_client.patch(
        f"/api/v1/applications/{group.application.name}/deployment-groups/{group.name}/",
        {"health_check": {"url": url}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "{hostname}" in str(response.json()) and "scheme, port, path and query" in str(response.json())
    group.refresh_from_db()
    assert not group.health_check


def test_a_forwarding_header_counts_only_from_a_trusted_proxy(project, settings):
    register(project, hostname="", remote="127.0.0.9", x_forwarded_for="10.1.2.3")
    assert Instance.objects.get().peer_address == "127.0.0.9"
    Instance.objects.all().delete()
    settings.TRUSTED_PROXIES = ["127.0.0.9/32"]
    register(project, hostname="", remote="127.0.0.9", x_forwarded_for="192.0.2.50, 10.1.2.3")
    assert Instance.objects.get().peer_address == "10.1.2.3"


def test_a_poll_from_a_new_address_moves_the_checks_there(project):
    instance = register(project, hostname="")
    response = Client().post(
        POLL,
        {},
        content_type="application/json",
        REMOTE_ADDR="127.0.0.7",
        headers={"Authorization": f"Bearer {instance.raw_credential}"},
    )
    assert response.status_code == 200
    assert Instance.objects.get().peer_address == "127.0.0.7"


@pytest.mark.parametrize("hostname", ["web 1", "web-1/../../etc", "http://x", "a" * 64 + ".example"])
def test_a_reported_hostname_must_be_a_host_name_or_an_address(project, hostname):
    _, raw = RegistrationToken.issue(project=project, tags={"role": "web"})
    response = Client().post(
        REGISTER, {"token": raw, "name": "web-1", "hostname": hostname}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "hostname"
    assert not Instance.objects.exists()


def test_an_agent_host_name_is_used_only_where_enabled_and_only_if_it_resolves_to_the_peer(
    project, servers, settings, names
):
    settings.OUTBOUND_ALLOW = ["127.0.0.0/8"]
    settings.HEALTH_CHECK_AGENT_HOSTNAMES = True
    real, claimed = servers
    names.set("web-1.corp.test", "127.0.0.1")
    register(project, hostname="web-1.corp.test")
    assert health_checked(project, f"http://{{hostname}}:{real.port}/health").status == "Succeeded"
    assert real.hosts == [f"web-1.corp.test:{real.port}"]

    Instance.objects.all().delete()
    names.set("web-1.corp.test", "127.0.0.2")  # the name now points elsewhere than the agent
    register(project, hostname="web-1.corp.test")
    deployment = health_checked(project, f"http://{{hostname}}:{real.port}/health")
    assert deployment.status == "Failed" and "does not resolve to it" in deployment.error_message
    assert claimed.hosts == []
