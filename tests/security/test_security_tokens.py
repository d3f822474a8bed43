"""Wrong, revoked, expired and other projects' tokens get a clear 401/404 with a readable body and
change nothing: personal `fdp_` tokens (also from createapitoken), keys that are not personal tokens, registration tokens and agent credentials."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from security_world import changed, snapshot

from deployments import engine
from deployments.models import HostCommand, Instance, RegistrationToken, Revision
from projects.models import ApiToken

# The agent API views do their database work in a thread pool, which sees only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

APP = "/api/v1/applications/zq-app/"
GROUP = f"{APP}deployment-groups/zq-group/"


@pytest.fixture(autouse=True)
def _agent_api(settings, monkeypatch):
    """As in tests/agent_api/conftest.py: no Redis wake-up subscription, pool connections closed."""
    from django.db import connections

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def api(header: str | None) -> dict[str, object]:
    """GET and DELETE an application, PATCH its group and POST a deployment with `header`."""
    client = Client()
    headers = {"Authorization": header} if header else {}
    return {
        "get": client.get(APP, headers=headers),
        "patch": client.patch(
            GROUP,
            {"deployment_config": "CodeDeployDefault.AllAtOnce"},
            content_type="application/json",
            headers=headers,
        ),
        "delete": client.delete(APP, headers=headers),
        "post": client.post(
            "/api/v1/deployments/",
            {"application": "zq-app", "deployment_group": "zq-group", "revision": 1},
            content_type="application/json",
            headers=headers,
        ),
    }


def agent(path: str, credential: str, body: dict | None = None, scheme: str = "Bearer"):
    """An agent API call: bundles are GETs, everything else a JSON POST."""
    headers = {"Authorization": f"{scheme} {credential}"}
    if path.startswith("bundles/"):
        return Client().get(f"/agent/v1/{path}", headers=headers)
    return Client().post(f"/agent/v1/{path}", body or {}, content_type="application/json", headers=headers)


def readable(response) -> str:
    detail = response.json()["detail"]
    assert isinstance(detail, str) and len(detail) > 10, detail
    return detail


def bad_api_headers(world) -> dict[str, str]:
    revoked, raw_revoked = ApiToken.issue(world.owner, "revoked")
    revoked.revoke()
    inactive = world.contributor
    _, raw_inactive = ApiToken.issue(inactive, "inactive")
    inactive.is_active = False
    inactive.save()
    rotated, old_key = ApiToken.issue(world.owner, "rotated")
    rotated.revoke()
    ApiToken.issue(world.owner, "rotated")
    return {
        "personal token never issued": "Token fdp_" + "x" * 43,
        "revoked personal token": f"Token {raw_revoked}",
        "personal token of a deactivated user": f"Token {raw_inactive}",
        "a key that is not a personal token": "Token " + "0" * 40,
        "personal token rotated away": f"Token {old_key}",
        "agent credential": f"Token {world.instance_credential}",
        "registration token": f"Token {world.raw['registration_token']}",
        "personal token as Bearer": f"Bearer {world.raw['api_token']}",
        "no key": "Token",
    }


@pytest.fixture
def agents(world):
    """The seeded host's credential, and a host of the outsider's project with its own."""
    world.instance_credential = world.instance.rotate_credential()
    world.instance.save()
    foreign = Instance(name="elsewhere-host", project=world.other, tags={"role": "web"})
    world.foreign_credential = foreign.rotate_credential()
    foreign.save()
    return world


def test_bad_api_tokens_get_a_clear_401_and_change_nothing(agents):
    world = agents
    headers = bad_api_headers(world)
    before = snapshot()
    for what, header in headers.items():
        for method, response in api(header).items():
            assert response.status_code == 401, f"{what}: {method} {response.status_code}"
            assert readable(response), what
            assert response.headers.get("WWW-Authenticate") == "Token", what
    assert changed(before, snapshot()) == []
    # The same requests with the owner's own token work, so the 401s above are about the tokens.
    assert api(f"Token {world.raw['api_token']}")["get"].status_code == 200


def test_another_projects_valid_tokens_get_404_and_change_nothing(agents):
    world = agents
    _, personal = ApiToken.issue(world.outsider, "theirs")
    _, via_command = ApiToken.issue(world.outsider, "createapitoken")
    before = snapshot()
    for header in (f"Token {personal}", f"Token {via_command}"):
        answers = api(header)
        for method in ("get", "patch", "delete"):
            assert answers[method].status_code == 404, (header[:10], method)
            assert readable(answers[method])
        assert answers["post"].status_code == 400
        assert "zq-app" not in str(answers["get"].content)
    assert changed(before, snapshot()) == []


def test_bad_registration_tokens_get_a_clear_401_and_register_nothing(agents):
    world = agents
    revoked, raw_revoked = RegistrationToken.issue(project=world.project)
    revoked.revoke()
    _, raw_expired = RegistrationToken.issue(
        project=world.project, expires_at=timezone.now() - timedelta(seconds=1)
    )
    before = snapshot()
    for what, raw in {
        "unknown": "fdr_" + "x" * 43,
        "revoked": raw_revoked,
        "expired": raw_expired,
        "a personal API token": world.raw["api_token"],
        "an agent credential": world.instance_credential,
    }.items():
        response = Client().post(
            "/agent/v1/register/", {"token": raw, "name": "zq-new-host"}, content_type="application/json"
        )
        assert response.status_code == 401, what
        assert "registration token" in readable(response), what
    assert changed(before, snapshot()) == []

    # Another project's valid token cannot take over a host of this project by naming it: names are
    # per project, so it enrols a new host of its own project, and says nothing of this one.
    _, theirs = RegistrationToken.issue(project=world.other)
    host = Instance.objects.filter(pk=world.instance.pk).values().get()
    hijack = Client().post(
        "/agent/v1/register/", {"token": theirs, "name": "zq-host-1"}, content_type="application/json"
    )
    assert hijack.status_code == 201
    assert Instance.objects.get(pk=hijack.json()["instance_id"]).project == world.other
    assert Instance.objects.filter(pk=world.instance.pk).values().get() == host, "the host is untouched"
    assert Instance.authenticate(world.instance_credential).pk == world.instance.pk


def test_bad_agent_credentials_get_a_clear_401_and_another_projects_agent_gets_404(agents):
    world = agents
    revision = Revision.objects.create(application=world.app, bundle_type="tgz", sha256="c" * 64)
    deployment = engine.create_deployment(group=world.group, revision=revision)
    command = HostCommand.objects.get(deployment_id=deployment.pk, instance=world.instance)
    gone = Instance(name="zq-gone", project=world.project)
    gone_credential = gone.rotate_credential()
    gone.save()
    gone.deregister()

    before = snapshot()
    for what, (credential, scheme) in {
        "unknown": ("fdi_" + "x" * 43, "Bearer"),
        "deregistered": (gone_credential, "Bearer"),
        "a personal API token": (world.raw["api_token"], "Bearer"),
        "a registration token": (world.raw["registration_token"], "Bearer"),
        "the Token scheme": (world.instance_credential, "Token"),
    }.items():
        for path in ("heartbeat/", f"commands/{command.pk}/ack/", f"bundles/{revision.pk}/"):
            response = agent(path, credential, scheme=scheme)
            assert response.status_code == 401, f"{what}: {path} {response.status_code}"
            assert "credential" in readable(response), what
    assert changed(before, snapshot()) == []

    # A host of another project holds a valid credential, but this project's work is not its own.
    foreign = world.foreign_credential
    for path, body in (
        (f"commands/{command.pk}/ack/", {"timeout_seconds": 60}),
        (f"commands/{command.pk}/log/", {"lines": [{"seq": 1, "text": "zq-injected"}]}),
        (
            f"commands/{command.pk}/complete/",
            {"status": "Failed", "diagnostics": {"error_code": "ScriptFailed"}},
        ),
    ):
        response = agent(path, foreign, body)
        assert response.status_code == 404 and readable(response), path
    bundle = agent(f"bundles/{revision.pk}/", foreign)
    assert bundle.status_code == 404 and readable(bundle)
    assert changed(before, snapshot()) == []
    # The project's own host may ack the same command, so the 404s above are about whose it is.
    assert (
        agent(f"commands/{command.pk}/ack/", world.instance_credential, {"timeout_seconds": 60}).status_code
        == 200
    )
