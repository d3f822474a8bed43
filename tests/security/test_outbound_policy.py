"""Issue 14, item 3: every server-side request goes through one outbound policy.

By default the server refuses loopback, link-local (cloud metadata), private, CGNAT, multicast and
reserved destinations after resolving the name, connects to the address it checked, and shows users a
status and a short reason, never the remote body. FLEETDECK_OUTBOUND_ALLOW opens ranges and names.
Everything runs against local fakes on 127.0.0.x; `net_guard` (fixtures from this folder's conftest)
answers DNS for the test's names and refuses (and records) any connect off this machine.
"""

from __future__ import annotations

import socketserver
import threading

import pytest
from django.test import Client
from factories import (
    make_app,
    make_github,
    make_group,
    make_instance,
    make_jira,
    make_member,
    make_project,
)
from fakes import FakeServer, jira_fake, receiver_fake, running

from deployments import engine
from deployments.models import Revision
from integrations.models import Trigger, TriggerDelivery

pytestmark = pytest.mark.django_db(transaction=True)

REMOTE_BODY = "remote-body-that-must-never-be-shown"


@pytest.fixture(autouse=True)
def _default_policy(settings):
    """The shipped default: nothing opened (the suite opens loopback for every other test)."""
    settings.OUTBOUND_ALLOW = []


@pytest.fixture
def project():
    return make_project("shop")


@pytest.fixture
def owner(project):
    client = Client()
    client.force_login(make_member(project, "olivia", "owner"))
    return client


@pytest.fixture
def jira():
    with running(jira_fake) as fake:
        yield fake


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_jira_test_connection_to_loopback_is_refused_and_reaches_nothing(project, owner, jira):
    make_jira(project, jira.url)
    html = owner.post("/integrations/p/shop/jira/test/").content.decode()
    assert 'data-ok="true"' not in html
    assert "loopback" in html and "FLEETDECK_OUTBOUND_ALLOW" in html
    assert jira.requests == []


def test_a_remote_error_shows_the_status_and_a_reason_but_never_the_body(project, owner, jira, settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.0/8"]
    jira.routes.clear()
    jira.route("GET", "/rest/api/2/myself", lambda req, m: (500, {"errorMessages": [REMOTE_BODY]}))
    for method in ("GET", "POST"):  # every other call, the JQL search included
        jira.route(method, "/.*", lambda req, m: (403, REMOTE_BODY.encode()))
    make_jira(project, jira.url)
    html = owner.post("/integrations/p/shop/jira/test/").content.decode()
    assert "HTTP 500" in html and "HTTP 403" in html
    assert REMOTE_BODY not in html


def test_a_github_enterprise_base_url_on_loopback_is_refused(project, owner):
    fake = FakeServer().start()
    try:
        make_github(project, f"{fake.url}/api/v3")
        html = owner.post("/integrations/p/shop/github/test/").content.decode()
        assert "loopback" in html and 'data-ok="true"' not in html
        assert fake.requests == []
    finally:
        fake.stop()


def test_the_servers_fetch_of_a_github_archive_goes_through_the_policy(project):
    """The one download the server makes with a project's token is bound like every other call."""
    from fakes import github_fake

    with running(github_fake) as github:
        make_github(project, github.url)
        app = make_app(project=project)
        make_instance("web-1", project=project, role="web")
        revision = Revision.objects.create(
            application=app,
            source="github",
            bundle_type="tgz",
            location={"repository": "acme/shop", "commit": "a" * 40, "ref": "refs/heads/main"},
        )
        deployment = engine.create_deployment(group=make_group(app, "web"), revision=revision)
        deployment.refresh_from_db()
        assert (deployment.status, deployment.error_code) == ("Failed", "REVISION_MISSING")
        assert (
            "loopback" in deployment.error_message and "FLEETDECK_OUTBOUND_ALLOW" in deployment.error_message
        )
        assert not any("/tarball/" in r.path for r in github.requests), "nothing reached the fake"


def test_a_github_enterprise_name_that_resolves_to_the_metadata_service_is_refused(
    project, owner, names, guard
):
    names.set("ghe.corp.test", "169.254.169.254")
    make_github(project, "http://ghe.corp.test/api/v3")
    html = owner.post("/integrations/p/shop/github/test/").content.decode()
    assert "cloud metadata" in html
    assert guard == []


def _trigger(target: str, kind: str = "webhook") -> Trigger:
    project = make_project("hooks")
    group = make_group(make_app(project=project), "web")
    make_instance("web-1", project=project, role="web")
    trigger = Trigger.objects.create(
        group=group, name="ops", events=["DeploymentStart"], kind=kind, target=target
    )
    revision = Revision.objects.create(application=group.application, bundle_type="tgz", sha256="a" * 64)
    engine.create_deployment(group=group, revision=revision)
    return trigger


@pytest.fixture
def fast_triggers(settings):
    settings.FLEETDECK_TRIGGER_BACKOFF = 0
    settings.FLEETDECK_TRIGGER_ATTEMPTS = 1
    settings.FLEETDECK_INTEGRATIONS_TIMEOUT = 2.0


def test_a_trigger_webhook_to_loopback_is_refused(fast_triggers):
    receiver = receiver_fake()
    try:
        _trigger(f"{receiver.url}/hook")
        delivery = TriggerDelivery.objects.get()
        assert not delivery.ok and "loopback" in delivery.error
        assert receiver.requests == []
    finally:
        receiver.stop()


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/"],
    ids=["ipv4-metadata", "ipv6-metadata"],
)
def test_a_slack_trigger_to_the_metadata_service_is_refused(fast_triggers, guard, target):
    _trigger(target, kind="slack")
    delivery = TriggerDelivery.objects.get()
    assert not delivery.ok and "cloud metadata" in delivery.error
    assert guard == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.1.2.3", "private"),
        ("100.64.0.7", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - a destination, nothing binds
        ("fe80::1", "link-local"),
    ],
)
def test_a_name_resolving_to_a_non_public_address_is_refused(fast_triggers, names, guard, address, reason):
    names.set("hooks.corp.test", address)
    _trigger("http://hooks.corp.test/hook")
    delivery = TriggerDelivery.objects.get()
    assert not delivery.ok and reason in delivery.error
    assert guard == [] and names.asked


def test_a_name_hiding_a_private_address_behind_a_public_one_is_refused(fast_triggers, names, guard):
    names.set("mixed.corp.test", ["93.184.215.14", "10.0.0.5"])
    _trigger("http://mixed.corp.test/hook")
    assert "private" in TriggerDelivery.objects.get().error
    assert guard == []


def test_the_allow_list_opens_a_range(fast_triggers, settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.0/8"]
    receiver = receiver_fake()
    try:
        _trigger(f"{receiver.url}/hook")
        assert TriggerDelivery.objects.get().ok
        assert len(receiver.requests_to("POST", "/hook")) == 1
    finally:
        receiver.stop()


def test_the_allow_list_opens_a_host_name_and_connects_to_what_it_resolves_to(fast_triggers, settings, names):
    receiver = receiver_fake()
    try:
        settings.OUTBOUND_ALLOW = ["hooks.corp.test"]
        names.set("hooks.corp.test", "127.0.0.1")
        _trigger(f"http://hooks.corp.test:{_port(receiver.url)}/hook")
        assert TriggerDelivery.objects.get().ok
        assert (
            receiver.requests_to("POST", "/hook")[0].headers["host"]
            == f"hooks.corp.test:{_port(receiver.url)}"
        )
    finally:
        receiver.stop()


def test_a_rebinding_name_is_connected_to_at_the_address_that_was_checked(fast_triggers, settings, names):
    """The resolver answers an allowed address first and loopback afterwards: the request must reach
    the first, so a check followed by a second look-up cannot be turned against the server."""
    allowed = FakeServer()
    allowed._server.server_close()
    from http.server import ThreadingHTTPServer

    allowed._server = ThreadingHTTPServer(("127.0.0.2", 0), allowed._handler())
    allowed._thread = __import__("threading").Thread(target=allowed._server.serve_forever, daemon=True)
    allowed.route("POST", "/hook", lambda req, m: (200, {"ok": True}))
    allowed.start()
    port = allowed._server.server_address[1]
    blocked = FakeServer()
    blocked._server.server_close()
    blocked._server = ThreadingHTTPServer(("127.0.0.1", port), blocked._handler())
    blocked._thread = __import__("threading").Thread(target=blocked._server.serve_forever, daemon=True)
    blocked.route("POST", "/hook", lambda req, m: (200, {"ok": True}))
    blocked.start()
    try:
        settings.OUTBOUND_ALLOW = ["127.0.0.2/32"]
        names.set("rebind.test", "127.0.0.2", "127.0.0.1")
        _trigger(f"http://rebind.test:{port}/hook")
        assert TriggerDelivery.objects.get().ok
        assert len(allowed.requests_to("POST", "/hook")) == 1
        assert blocked.requests == []
    finally:
        allowed.stop()
        blocked.stop()


def test_a_bad_allow_list_entry_stops_the_server_with_its_name(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "FLEETDECK_OUTBOUND_ALLOW": "10.0.0.0/8, not a host",
        "FLEETDECK_VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "FLEETDECK_OUTBOUND_ALLOW" in done.stderr and "'not a host'" in done.stderr


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for one message; each accepted message is appended to `server.messages`."""

    def handle(self):
        def say(line: str) -> None:
            self.wfile.write(f"{line}\r\n".encode())

        say("220 relay")
        in_data = False
        while raw := self.rfile.readline():
            line = raw.decode().rstrip("\r\n")
            if in_data:
                if line == ".":
                    in_data = False
                    self.server.messages.append(True)
                    say("250 queued")
                continue
            verb = line.split(" ")[0].upper()
            if verb == "DATA":
                in_data = True
                say("354 go on")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("250 ok")


def test_email_goes_to_the_operators_relay_through_the_policy_and_nowhere_else(settings):
    from django.core.mail import get_connection, send_mail

    from core.outbound import PolicySMTP

    relay = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    relay.messages = []
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    try:
        port = relay.server_address[1]
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "localhost", port, False
        backend = get_connection("core.outbound.SMTPBackend")
        send_mail("deployed", "body", "fleetdeck@example.com", ["ops@example.com"], connection=backend)
        assert relay.messages == [True]
        # The relay is trusted by its configured name, for SMTP alone: loopback by any other name is not.
        with pytest.raises(OSError, match="loopback"):
            PolicySMTP("127.0.0.1", port, timeout=2)
        assert relay.messages == [True]
    finally:
        relay.shutdown()
        relay.server_close()


@pytest.mark.parametrize(
    ("kind", "form"),
    [
        (
            "jira",
            {"server_url": "http://127.0.0.1:6379", "auth": "pat", "token": "t", "jql": "order by updated"},
        ),
        (
            "github",
            {"repository": "acme/shop", "default_branch": "main", "api_url": "http://169.254.169.254/api/v3"},
        ),
        ("aws", {"region": "us-east-1", "endpoint_url": "http://[::1]:9000"}),
    ],
)
def test_a_connection_to_a_refused_address_is_not_saved_and_the_form_says_why(project, owner, kind, form):
    from integrations.views import KINDS

    response = owner.post(f"/integrations/p/shop/{kind}/", form)
    assert response.status_code == 200
    html = response.content.decode()
    assert "the server does not connect to" in html and "FLEETDECK_OUTBOUND_ALLOW" in html
    assert not KINDS[kind][1].objects.exists()


@pytest.mark.parametrize("field", ["load_balancer_info", "alarm_configuration"])
def test_a_groups_aws_endpoint_to_the_metadata_service_is_refused(api_client, user, project, field, guard):
    from projects.models import Membership

    Membership.objects.create(project=project, user=user, role="owner")
    group = make_group(make_app(project=project), "web")
    value = (
        {"router": "elbv2", "target_groups": ["arn:aws:elasticloadbalancing:x"]}
        if field == "load_balancer_info"
        else {"alarms": ["cpu"]}
    )
    response = api_client.patch(
        f"/api/v1/applications/{group.application.name}/deployment-groups/{group.name}/",
        {field: {**value, "endpoint_url": "http://169.254.169.254/"}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "cloud metadata" in str(response.json())
    group.refresh_from_db()
    assert not getattr(group, field)
    assert guard == []
