"""Clear errors and distinct exit codes for refused tokens, roles, missing things and bad servers."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest
from cli_helpers import APPSPEC
from factories import make_revision
from fleetdeck_cli.errors import AUTH, ERROR, NETWORK

from projects.models import ApiToken


@pytest.fixture
def as_token(server, monkeypatch, capsys):
    from cli_helpers import Cli

    def use(token: str) -> Cli:
        monkeypatch.setenv("FLEETDECK_URL", server)
        monkeypatch.setenv("FLEETDECK_TOKEN", token)
        return Cli(capsys)

    return use


def test_a_createapitoken_key_works_too(as_token, owner, group):
    cli = as_token(ApiToken.issue(owner, "cli")[1])
    result = cli("plan", "-a", "shop-app", "-g", "web")
    assert "NO_INSTANCES" in result.out  # the request got through; the plan itself cannot run


def test_a_refused_token_exits_7_and_says_where_to_get_one(as_token, server, group):
    result = as_token("fdp_revoked-or-made-up")("status", "d-ABCDEF")
    assert result.code == AUTH
    assert "The server refused the API token from FLEETDECK_TOKEN (Invalid or revoked token.)" in result.err
    assert f"{server}/profile/tokens/" in result.err


def test_a_revoked_personal_token_is_refused(as_token, owner, group):
    from projects.models import ApiToken

    token, raw = ApiToken.issue(owner, "ci")
    token.revoke()
    assert as_token(raw)("plan", "-a", "shop-app", "-g", "web").code == AUTH


def test_a_viewer_cannot_deploy_and_is_told_the_role(as_token, group, project, django_user_model):
    from projects.models import ApiToken, Membership, Role

    viewer = django_user_model.objects.create_user("viewer", password="pw")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    cli = as_token(ApiToken.issue(viewer, "ci")[1])
    revision = make_revision(group.application, appspec=APPSPEC)
    result = cli("deploy", "-a", "shop-app", "-g", "web", "-r", str(revision.pk))
    assert result.code == AUTH
    assert "contributor" in result.err


def test_an_outsider_sees_the_application_as_missing(as_token, group, django_user_model):
    from projects.models import ApiToken

    outsider = django_user_model.objects.create_user("mallory", password="pw")
    cli = as_token(ApiToken.issue(outsider, "ci")[1])
    result = cli("deploy", "-a", "shop-app", "-g", "web", "--latest")
    assert result.code == ERROR
    assert "Application 'shop-app' not found, or you are not a member of its project" in result.err
    result = cli("plan", "-a", "shop-app", "-g", "web")
    assert "Application 'shop-app' not found" in result.err


def test_an_unreachable_server_exits_6(offline_cli, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("FLEETDECK_TOKEN", "fdp_x")
    result = offline_cli("--url", f"http://127.0.0.1:{port}", "stop", "d-ABCDEF")
    assert result.code == NETWORK
    assert f"Cannot reach the Fleetdeck server at http://127.0.0.1:{port}" in result.err


class _NotFleetdeck(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = b"<html>welcome to nginx</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_url_that_is_not_fleetdeck_is_named(offline_cli, monkeypatch):
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _NotFleetdeck)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("FLEETDECK_TOKEN", "fdp_x")
        url = f"http://127.0.0.1:{httpd.server_port}"
        result = offline_cli("--url", url, "stop", "d-ABCDEF")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert result.code == ERROR
    assert "text/html, not the Fleetdeck API's JSON; check FLEETDECK_URL" in result.err


def test_a_url_without_a_scheme_is_a_usage_error(offline_cli, monkeypatch):
    monkeypatch.setenv("FLEETDECK_TOKEN", "fdp_x")
    result = offline_cli("--url", "fleetdeck.example.com", "status", "d-ABCDEF")
    assert result.code == 2
    assert "must start with http:// or https://" in result.err
