"""/agent/v1/: register, poll, the per-command calls and bundle downloads, as docs/agent-protocol.md says."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from factories import (
    ALL_AT_ONCE,
    deploy,
    issued,
    make_app,
    make_group,
    make_instance,
    make_revision,
    refresh,
)

from deployments.models import DeploymentEvent, HostCommand, Instance, LifecycleEvent, RegistrationToken

pytestmark = pytest.mark.django_db(transaction=True)

REGISTER = "/agent/v1/register/"
POLL = "/agent/v1/poll/?wait=0"


def command_url(command_id, action: str) -> str:
    return f"/agent/v1/commands/{command_id}/{action}/"


@pytest.fixture
def token():
    _, raw = RegistrationToken.issue(description="web hosts", tags={"role": "web", "env": "prod"})
    return raw


@pytest.fixture
def app():
    return make_app()


@pytest.fixture
def running(app):
    """Two hosts in an AllAtOnce deployment, each with its first command issued."""
    web1, web2 = make_instance("web-1", role="web"), make_instance("web-2", role="web")
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    return deployment, web1, web2, issued(web1)[0]


def snapshot() -> tuple:
    """Everything an agent call could change."""
    return (
        list(HostCommand.objects.order_by("pk").values_list("pk", "status", "log_seq", "acked_at")),
        list(LifecycleEvent.objects.order_by("pk").values_list("pk", "status")),
        DeploymentEvent.objects.count(),
    )


# --- register ----------------------------------------------------------------------------------


def test_register_with_a_good_token_returns_a_credential_stored_only_as_a_hash(agent_client, token):
    response = agent_client.post(
        REGISTER, {"token": token, "name": "web-1", "hostname": "web-1.example", "tags": {"zone": "a"}}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "web-1"
    # The agent may add tags; the token's cannot be changed (tests/security/test_registration_takeover.py).
    assert body["tags"] == {"role": "web", "env": "prod", "zone": "a"}
    credential = body["credential"]
    instance = Instance.objects.get(pk=body["instance_id"])
    assert instance.credential_hash == hashlib.sha256(credential.encode()).hexdigest()
    for field in Instance._meta.concrete_fields:
        assert credential not in str(getattr(instance, field.attname))
    token_row = RegistrationToken.objects.get()
    assert token_row.uses == 1
    assert token not in str(token_row.__dict__)
    assert agent_client.post(POLL, credential=credential).status_code == 200


@pytest.mark.parametrize("kind", ["expired", "revoked", "unknown"])
def test_register_with_an_unusable_token_is_refused_and_creates_nothing(agent_client, token, kind):
    if kind == "expired":
        RegistrationToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif kind == "revoked":
        RegistrationToken.objects.get().revoke()
    else:
        token = "fdr_not-a-real-token"
    response = agent_client.post(REGISTER, {"token": token, "name": "web-1"})
    assert response.status_code == 401
    assert "token" in response.json()["detail"]
    assert not Instance.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "web-1"}, "token"),
        ({"token": "x"}, "name"),
        ({"token": "x", "name": "-bad name"}, "name"),
        ({"token": "x", "name": "web-1", "tags": ["role"]}, "tags"),
        ({"token": "x", "name": "web-1", "tags": {"role": 1}}, "tags"),
        ({"token": "x", "name": "web-1", "hostname": 12}, "hostname"),
    ],
)
def test_register_with_a_bad_payload_names_the_field(agent_client, token, body, field):
    if body.get("token") == "x":
        body = {**body, "token": token}
    response = agent_client.post(REGISTER, body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["detail"].startswith(field)
    assert not Instance.objects.exists()


def test_registering_again_needs_the_current_credential_and_keeps_it(agent_client, token):
    first = agent_client.post(REGISTER, {"token": token, "name": "web-1"}).json()
    refused = agent_client.post(REGISTER, {"token": token, "name": "web-1"})
    assert refused.status_code == 409
    assert "deregister web-1 first" in refused.json()["detail"]
    second = agent_client.post(REGISTER, {"token": token, "name": "web-1"}, credential=first["credential"])
    assert second.status_code == 200
    assert second.json()["instance_id"] == first["instance_id"]
    assert second.json()["credential"] == first["credential"]
    assert agent_client.post(POLL, credential=first["credential"]).status_code == 200
    assert Instance.objects.count() == 1


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"'])
def test_a_body_that_is_not_a_json_object_is_a_400(agent_client, raw):
    response = agent_client.post(REGISTER, raw=raw)
    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_a_get_to_a_post_endpoint_is_a_405(agent_client):
    assert agent_client.get(REGISTER).status_code == 405


# --- poll --------------------------------------------------------------------------------------


def test_poll_returns_issued_commands_at_once_with_an_absolute_bundle_url(agent_client, running):
    deployment, web1, _, command = running
    response = agent_client.post(
        "/agent/v1/poll/?wait=20", {"agent_version": "9.9"}, credential=web1.credential
    )
    assert response.status_code == 200
    (sent,) = response.json()["commands"]
    assert sent["id"] == str(command.pk)
    assert sent["deployment_id"] == deployment.id
    assert sent["lifecycle_event"] == "ApplicationStop"
    assert sent["revision"]["url"] == f"http://testserver/agent/v1/bundles/{deployment.revision_id}/"
    assert "issued_at" in sent
    assert Instance.objects.get(pk=web1.pk).agent_version == "9.9"


def test_poll_with_nothing_waiting_returns_an_empty_list(agent_client):
    host = make_instance("web-1", role="web")
    response = agent_client.post(POLL, credential=host.credential)
    assert response.json()["commands"] == []


def test_poll_tells_the_agent_how_often_to_beat_while_busy(agent_client, settings):
    settings.AGENT_OFFLINE_AFTER = 6
    host = make_instance("web-1", role="web")
    assert agent_client.post(POLL, credential=host.credential).json()["heartbeat_seconds"] == 2.0


def test_an_acked_command_leaves_the_poll_answer(agent_client, running):
    _, web1, _, command = running
    agent_client.post(command_url(command.pk, "ack"), {"timeout_seconds": 60}, credential=web1.credential)
    assert agent_client.post(POLL, credential=web1.credential).json()["commands"] == []


def test_poll_counts_as_a_heartbeat(agent_client):
    host = make_instance("web-1", role="web")
    Instance.objects.filter(pk=host.pk).update(online=False, last_seen=None)
    agent_client.post(POLL, credential=host.credential)
    host.refresh_from_db()
    assert host.online and host.last_seen is not None


def test_poll_records_what_the_agent_says_of_itself_when_it_changes(agent_client):
    host = make_instance("web-1", role="web")
    body = {"agent_version": "0.2.0", "ec2_instance_id": "i-0123456789abcdef0"}
    assert agent_client.post(POLL, body, credential=host.credential).status_code == 200
    host.refresh_from_db()
    assert (host.agent_version, host.ec2_instance_id) == ("0.2.0", "i-0123456789abcdef0")
    # Saying nothing changes nothing: an agent off EC2, or one that cannot reach its metadata now.
    assert agent_client.post(POLL, {}, credential=host.credential).status_code == 200
    host.refresh_from_db()
    assert host.ec2_instance_id == "i-0123456789abcdef0"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"agent_version": "9" * 51}, "agent_version"),
        ({"agent_version": 2}, "agent_version"),
        ({"ec2_instance_id": "i-../../etc"}, "ec2_instance_id"),
        ({"ec2_instance_id": "sg-0123456789abcdef0"}, "ec2_instance_id"),
        ({"ec2_instance_id": ["i-0123456789abcdef0"]}, "ec2_instance_id"),
    ],
)
def test_poll_refuses_a_bad_self_description_and_changes_nothing(agent_client, body, field):
    host = make_instance("web-1", role="web")
    before = Instance.objects.filter(pk=host.pk).values("agent_version", "ec2_instance_id").get()
    response = agent_client.post(POLL, body, credential=host.credential)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert Instance.objects.filter(pk=host.pk).values("agent_version", "ec2_instance_id").get() == before


def test_poll_with_a_bad_wait_is_a_400(agent_client):
    host = make_instance("web-1", role="web")
    response = agent_client.post("/agent/v1/poll/?wait=soon", credential=host.credential)
    assert response.status_code == 400
    assert response.json()["field"] == "wait"


# --- authentication of every call ---------------------------------------------------------------


PER_COMMAND = [
    ("ack", {"timeout_seconds": 60}),
    ("log", {"lines": [{"seq": 1, "text": "hello"}]}),
    ("complete", {"status": "Succeeded", "diagnostics": {"error_code": "Success"}}),
]


@pytest.mark.parametrize(("action", "body"), PER_COMMAND)
@pytest.mark.parametrize("who", ["missing", "wrong", "deregistered"])
def test_a_bad_credential_is_refused_and_changes_nothing(agent_client, running, action, body, who):
    _, web1, _, command = running
    credential = {"missing": None, "wrong": "fdi_wrong", "deregistered": web1.credential}[who]
    if who == "deregistered":
        Instance.objects.get(pk=web1.pk).deregister()
    before = snapshot()
    response = agent_client.post(command_url(command.pk, action), body, credential=credential)
    assert response.status_code == 401
    assert "credential" in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(("action", "body"), PER_COMMAND)
def test_another_instances_credential_gets_a_404_and_changes_nothing(agent_client, running, action, body):
    _, _, web2, command = running
    before = snapshot()
    response = agent_client.post(command_url(command.pk, action), body, credential=web2.credential)
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("path", ["/agent/v1/poll/?wait=0", "/agent/v1/heartbeat/"])
def test_poll_and_heartbeat_need_a_credential(agent_client, path):
    assert agent_client.post(path).status_code == 401


# --- per command ---------------------------------------------------------------------------------


def test_ack_log_and_complete_drive_the_event_and_issue_the_next(agent_client, running):
    deployment, web1, _, command = running
    cred = web1.credential
    ack = agent_client.post(command_url(command.pk, "ack"), {"timeout_seconds": 120}, credential=cred)
    assert ack.status_code == 200
    assert ack.json() == {"status": "InProgress"}
    assert agent_client.post(command_url(command.pk, "ack"), {}, credential=cred).status_code == 200

    batch = {"lines": [{"seq": 1, "text": "one"}, {"seq": 2, "text": "two", "stream": "stderr"}]}
    assert agent_client.post(command_url(command.pk, "log"), batch, credential=cred).json() == {"stored": 2}
    assert agent_client.post(command_url(command.pk, "log"), batch, credential=cred).json() == {"stored": 0}

    done = {"status": "Succeeded", "diagnostics": {"error_code": "Success"}}
    first = agent_client.post(command_url(command.pk, "complete"), done, credential=cred).json()
    assert first["status"] == "Succeeded"
    # The answer hands over the host's next event, the same command a poll returns.
    (handed,) = first["commands"]
    assert handed["lifecycle_event"] == "DownloadBundle"
    again = agent_client.post(command_url(command.pk, "complete"), {"status": "Failed"}, credential=cred)
    assert again.status_code == 200
    assert again.json()["status"] == "Succeeded"

    (nxt,) = agent_client.post(POLL, credential=cred).json()["commands"]
    assert nxt["lifecycle_event"] == "DownloadBundle"
    assert nxt["id"] == handed["id"]
    assert HostCommand.objects.filter(deployment=deployment, instance=web1).count() == 2
    logs = DeploymentEvent.objects.filter(deployment=deployment, kind="log").order_by("seq")
    assert [(e.message, e.data["stream"]) for e in logs] == [("one", "stdout"), ("two", "stderr")]


def test_a_completion_with_start_next_hands_over_the_next_event_already_started(agent_client, running):
    deployment, web1, _, command = running
    cred = web1.credential
    agent_client.post(command_url(command.pk, "ack"), {"timeout_seconds": 60}, credential=cred)
    done = {
        "status": "Succeeded",
        "diagnostics": {"error_code": "Success"},
        "start_next": {"timeouts": {"DownloadBundle": 900, "BeforeInstall": 30}},
    }
    answer = agent_client.post(command_url(command.pk, "complete"), done, credential=cred).json()
    (handed,) = answer["commands"]
    assert handed["lifecycle_event"] == "DownloadBundle"
    assert handed["started"] is True
    # The server recorded the start: no ack needed, the hook timeout is the agent's, nothing to poll.
    nxt = HostCommand.objects.select_related("lifecycle_event").get(pk=handed["id"])
    assert (nxt.status, nxt.started_on_delivery, nxt.timeout_seconds) == ("Acked", True, 900)
    assert nxt.acked_at is not None
    assert nxt.lifecycle_event.status == "InProgress"
    assert agent_client.post(POLL, credential=cred).json()["commands"] == []
    # A resent completion (its answer was lost) hands the same started event out again, and only it.
    again = agent_client.post(command_url(command.pk, "complete"), done, credential=cred).json()
    assert [(c["id"], c["started"]) for c in again["commands"]] == [(handed["id"], True)]
    assert HostCommand.objects.filter(deployment=deployment, instance=web1).count() == 2
    # An ack of a started command (an agent that ignores `started`) changes nothing.
    before = snapshot()
    ack = agent_client.post(command_url(handed["id"], "ack"), {"timeout_seconds": 5}, credential=cred)
    assert ack.status_code == 200 and ack.json() == {"status": "InProgress"}
    assert snapshot() == before
    # The started event completes like any other, and hands over the one after it.
    done["start_next"] = True
    third = agent_client.post(command_url(handed["id"], "complete"), done, credential=cred).json()
    (after,) = third["commands"]
    assert (after["lifecycle_event"], after["started"]) == ("BeforeInstall", True)
    assert HostCommand.objects.get(pk=after["id"]).timeout_seconds == 3600  # not in the map: the default


def test_a_started_event_is_not_handed_to_another_host_or_after_a_stop(agent_client, running):
    from deployments import engine

    deployment, web1, web2, command = running
    cred = web1.credential
    engine.request_stop(deployment.id)
    done = {"status": "Succeeded", "start_next": True}
    # web-1's ApplicationStop was never acked, so the stop cancelled it: its completion starts nothing.
    answer = agent_client.post(command_url(command.pk, "complete"), done, credential=cred)
    assert answer.status_code == 200
    assert answer.json()["commands"] == []
    assert not HostCommand.objects.filter(started_on_delivery=True).exists()
    assert agent_client.post(POLL, credential=web2.credential).json()["commands"] == []


@pytest.mark.parametrize(
    "start_next",
    [
        "yes",
        {"timeouts": ["DownloadBundle"]},
        {"timeouts": {"DownloadBundle": -1}},
        {"timeouts": {"DownloadBundle": "60"}},
        {"timeouts": {"x" * 65: 60}},
        {"timeouts": {f"Event{i}": 60 for i in range(51)}},
    ],
)
def test_a_bad_start_next_is_a_400_that_names_it_and_changes_nothing(agent_client, running, start_next):
    _, web1, _, command = running
    before = snapshot()
    body = {"status": "Succeeded", "start_next": start_next}
    response = agent_client.post(command_url(command.pk, "complete"), body, credential=web1.credential)
    assert response.status_code == 400
    assert response.json()["field"].startswith("start_next")
    assert snapshot() == before


def test_ack_of_a_cancelled_command_is_a_409(agent_client, running):
    from deployments import engine

    deployment, web1, _, command = running
    engine.request_stop(deployment.id)
    response = agent_client.post(command_url(command.pk, "ack"), {}, credential=web1.credential)
    assert response.status_code == 409
    assert refresh(deployment).status == "Stopped"


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("ack", {"timeout_seconds": 0}, "timeout_seconds"),
        ("ack", {"timeout_seconds": "60"}, "timeout_seconds"),
        ("log", {"lines": "hello"}, "lines"),
        ("log", {"lines": [{"seq": 0, "text": "x"}]}, "lines[0].seq"),
        ("log", {"lines": [{"seq": 1, "text": "x", "stream": "tty"}]}, "lines[0].stream"),
        ("complete", {"status": "Done"}, "status"),
        ("complete", {"status": "Failed", "diagnostics": {"error_code": "Oops"}}, "diagnostics.error_code"),
        ("complete", {"status": "Failed", "diagnostics": "x"}, "diagnostics"),
    ],
)
def test_bad_per_command_payloads_name_the_field_and_change_nothing(
    agent_client, running, action, body, field
):
    _, web1, _, command = running
    before = snapshot()
    response = agent_client.post(command_url(command.pk, action), body, credential=web1.credential)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert snapshot() == before


def test_bad_json_on_a_command_call_is_a_400(agent_client, running):
    _, web1, _, command = running
    response = agent_client.post(command_url(command.pk, "complete"), raw="{", credential=web1.credential)
    assert response.status_code == 400


def test_an_unknown_command_id_is_a_404(agent_client):
    host = make_instance("web-1", role="web")
    url = command_url("00000000-0000-0000-0000-000000000000", "ack")
    assert agent_client.post(url, {}, credential=host.credential).status_code == 404


def test_heartbeat_answers_an_empty_object(agent_client):
    host = make_instance("web-1", role="web")
    response = agent_client.post("/agent/v1/heartbeat/", {}, credential=host.credential)
    assert response.status_code == 200
    assert response.json() == {}


# --- bundles -------------------------------------------------------------------------------------


@pytest.fixture
def bundle_bytes(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return b"PK\x03\x04 a tiny bundle " * 10


def bundled_revision(app, data: bytes):
    revision = make_revision(app, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    revision.bundle.save("bundle.zip", ContentFile(data))
    return revision


def test_a_targeted_instance_downloads_the_bundle_with_its_checksum(agent_client, app, bundle_bytes):
    host = make_instance("web-1", role="web")
    revision = bundled_revision(app, bundle_bytes)
    deploy(make_group(app), revision)
    response = agent_client.get(f"/agent/v1/bundles/{revision.pk}/", credential=host.credential)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == bundle_bytes
    assert response["X-Fleetdeck-Sha256"] == hashlib.sha256(bundle_bytes).hexdigest()
    assert response["Content-Length"] == str(len(bundle_bytes))


def test_an_instance_not_targeted_by_that_revision_gets_a_404(agent_client, app, bundle_bytes):
    make_instance("web-1", role="web")
    outsider = make_instance("db-1", role="db")
    revision = bundled_revision(app, bundle_bytes)
    deploy(make_group(app), revision)
    response = agent_client.get(f"/agent/v1/bundles/{revision.pk}/", credential=outsider.credential)
    assert response.status_code == 404


def test_a_bundle_download_needs_a_credential(agent_client, app, bundle_bytes):
    make_instance("web-1", role="web")
    revision = bundled_revision(app, bundle_bytes)
    deploy(make_group(app), revision)
    assert agent_client.get(f"/agent/v1/bundles/{revision.pk}/").status_code == 401


def test_a_revision_without_a_stored_bundle_is_a_404(agent_client, app):
    host = make_instance("web-1", role="web")
    revision = make_revision(app)
    deploy(make_group(app), revision)
    assert (
        agent_client.get(f"/agent/v1/bundles/{revision.pk}/", credential=host.credential).status_code == 404
    )


def test_a_bundle_lost_from_storage_is_a_410_that_says_what_to_do(agent_client, app, bundle_bytes):
    host = make_instance("web-1", role="web")
    revision = bundled_revision(app, bundle_bytes)
    deploy(make_group(app), revision)
    revision.bundle.storage.delete(revision.bundle.name)
    response = agent_client.get(f"/agent/v1/bundles/{revision.pk}/", credential=host.credential)
    assert response.status_code == 410
    assert "missing from the server's storage" in response.json()["detail"]


def test_a_bundle_lost_mid_rollout_fails_the_deployment_with_revision_missing(
    agent_client, app, bundle_bytes
):
    """Every host's DownloadBundle fails on the 410; the deployment says why: REVISION_MISSING, not
    HEALTH_CONSTRAINTS (which would send the user looking at their scripts)."""
    hosts = [make_instance("web-1", role="web"), make_instance("web-2", role="web")]
    revision = bundled_revision(app, bundle_bytes)
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), revision)
    revision.bundle.storage.delete(revision.bundle.name)
    for host in hosts:
        (stop,) = issued(host)
        agent_client.post(command_url(stop.pk, "complete"), {"status": "Succeeded"}, host.credential)
    for host in hosts:
        (download,) = issued(host)
        assert download.lifecycle_event.name == "DownloadBundle"
        agent_client.post(command_url(download.pk, "ack"), {}, host.credential)
        response = agent_client.get(f"/agent/v1/bundles/{revision.pk}/", credential=host.credential)
        assert response.status_code == 410
        failure = {
            "status": "Failed",
            "diagnostics": {
                "error_code": "UnknownError",
                "message": f"Bundle download failed with HTTP 410: {response.json()['detail']}",
            },
        }
        agent_client.post(command_url(download.pk, "complete"), failure, host.credential)

    deployment = refresh(deployment)
    assert deployment.status == "Failed"
    assert deployment.error_code == "REVISION_MISSING"
    assert "missing from the server's storage" in deployment.error_message
