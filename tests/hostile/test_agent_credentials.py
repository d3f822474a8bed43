"""Every agent endpoint, called with missing, wrong, revoked and other instances' credentials.

Nothing may change in the database (every row of every table is compared before and after), and
the answer is a 401 (no usable credential) or a 404 (a real agent asking for what is not its own).
Malformed payloads get a 400 that names the field.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.urls import get_resolver
from factories import ALL_AT_ONCE, deploy, issued, make_app, make_group, make_instance, make_revision

from deployments.models import Instance, RegistrationToken
from projects.models import Project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("agent_api_settings")]

BUNDLE = b"PK\x05\x06" + b"\0" * 18  # an empty zip: the download does not look inside


@pytest.fixture
def fleet():
    """web-1 runs the first event of a deployment whose revision has a stored bundle; web-2 is in it too;
    db-1 is in another project."""
    app = make_app()
    revision = make_revision(app, sha256=hashlib.sha256(BUNDLE).hexdigest(), size=len(BUNDLE))
    revision.bundle.save("bundle.zip", ContentFile(BUNDLE))
    web1, web2 = make_instance("web-1", role="web"), make_instance("web-2", role="web")
    other_project = Project.objects.create(name="Other", slug="other")
    outsider = make_instance("db-1", role="web")
    Instance.objects.filter(pk=outsider.pk).update(project=other_project)
    deploy(make_group(app, config=ALL_AT_ONCE), revision)
    return {
        "web1": web1,
        "web2": web2,
        "outsider": outsider,
        "command": issued(web1)[0],
        "revision": revision,
    }


def endpoints(fleet) -> dict[str, tuple[str, str, dict | None]]:
    command, revision = fleet["command"].pk, fleet["revision"].pk
    return {
        "poll": ("POST", "/agent/v1/poll/?wait=0", {"agent_version": "9.9"}),
        "heartbeat": ("POST", "/agent/v1/heartbeat/", {}),
        "ack": ("POST", f"/agent/v1/commands/{command}/ack/", {"timeout_seconds": 60}),
        "log": ("POST", f"/agent/v1/commands/{command}/log/", {"lines": [{"seq": 1, "text": "pwned"}]}),
        "complete": (
            "POST",
            f"/agent/v1/commands/{command}/complete/",
            {"status": "Succeeded", "diagnostics": {"error_code": "Success"}},
        ),
        "bundle": ("GET", f"/agent/v1/bundles/{revision}/", None),
    }


AUTHENTICATED = ["poll", "heartbeat", "ack", "log", "complete", "bundle"]
OWN_THINGS = ["ack", "log", "complete", "bundle"]  # the endpoints that name a command or revision


def call(client, method: str, url: str, body, authorization: str | None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    if method == "GET":
        return client.get(url, headers=headers)
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def database(skip_heartbeat_of: Instance | None = None) -> dict:
    """Every row of every table. A valid agent's own heartbeat fields are the one thing it may move."""
    state = {}
    for model in apps.get_models():
        rows = list(model.objects.order_by("pk").values())
        if model is Instance and skip_heartbeat_of is not None:
            for row in rows:
                if row["id"] == skip_heartbeat_of.pk:
                    row.pop("last_seen"), row.pop("online"), row.pop("agent_version")
        state[model._meta.label] = rows
    return state


def test_the_test_covers_every_agent_endpoint():
    names = {
        pattern.name
        for pattern in get_resolver().url_patterns
        if getattr(pattern, "namespace", "") == "agent_api"
        for pattern in pattern.url_patterns
    }
    assert names == {*AUTHENTICATED, "register"}


def bad_credentials(fleet) -> dict[str, str | None]:
    web1 = fleet["web1"]
    return {
        "missing": None,
        "empty": "",
        "bearer alone": "Bearer",
        "bearer and spaces": "Bearer    ",
        "other scheme": f"Token {web1.credential}",
        "basic": "Basic d2ViLTE6eA==",
        "wrong": "Bearer fdi_" + "x" * 40,
        "prefix only": f"Bearer {web1.credential[:8]}",
        "credential hash": f"Bearer {web1.credential_hash}",
        "very long": "Bearer " + "A" * 20_000,
        "latin-1": "Bearer fdi_\xe9\xe8",
    }


@pytest.mark.parametrize("endpoint", AUTHENTICATED)
def test_an_unusable_credential_gets_a_401_and_changes_nothing(client, fleet, endpoint):
    method, url, body = endpoints(fleet)[endpoint]
    before = database()
    for kind, authorization in bad_credentials(fleet).items():  # one test per endpoint: each costs a flush
        response = call(client, method, url, body, authorization)
        assert response.status_code == 401, (kind, response.content)
        assert "credential" in response.json()["detail"], kind
        assert database() == before, kind


@pytest.mark.parametrize("endpoint", AUTHENTICATED)
def test_a_deregistered_instances_credential_gets_a_401_and_changes_nothing(client, fleet, endpoint):
    Instance.objects.get(pk=fleet["web1"].pk).deregister()
    method, url, body = endpoints(fleet)[endpoint]
    before = database()
    response = call(client, method, url, body, f"Bearer {fleet['web1'].credential}")
    assert response.status_code == 401
    assert database() == before


@pytest.mark.parametrize("endpoint", AUTHENTICATED)
def test_a_rotated_credential_gets_a_401_and_changes_nothing(client, fleet, endpoint):
    old = fleet["web1"].credential
    web1 = Instance.objects.get(pk=fleet["web1"].pk)
    web1.rotate_credential()
    web1.save()
    method, url, body = endpoints(fleet)[endpoint]
    before = database()
    assert call(client, method, url, body, f"Bearer {old}").status_code == 401
    assert database() == before


@pytest.mark.parametrize("who", ["web2", "outsider"])
def test_another_instances_credential_gets_a_404_and_changes_nothing(client, fleet, who):
    caller = fleet[who]
    before = database(skip_heartbeat_of=caller)
    for endpoint in OWN_THINGS:
        if endpoint == "bundle" and who == "web2":
            continue  # web-2 is a target of the same deployment, so it may download that bundle
        method, url, body = endpoints(fleet)[endpoint]
        response = call(client, method, url, body, f"Bearer {caller.credential}")
        assert response.status_code == 404, (endpoint, response.content)
        assert response.json()["detail"]
        assert database(skip_heartbeat_of=caller) == before, endpoint


def polled_ids(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [command["id"] for command in response.json()["commands"]]


@pytest.mark.parametrize("who", ["web2", "outsider"])
def test_another_instances_poll_does_not_see_the_command(client, fleet, who):
    """A working poll (200) that holds only the caller's own commands: web-2 its own first event of the
    same deployment, the other project's host nothing."""
    method, url, body = endpoints(fleet)["poll"]
    response = call(client, method, url, body, f"Bearer {fleet[who].credential}")
    assert polled_ids(response) == [str(command.pk) for command in issued(fleet[who])]
    assert str(fleet["command"].pk) not in response.content.decode()


def test_the_owner_of_the_command_is_let_through(client, fleet):
    """The control case: the same calls with web-1's credential work, so the refusals above mean something;
    its poll holds the command the others did not see."""
    urls = endpoints(fleet)
    method, url, body = urls["poll"]
    response = call(client, method, url, body, f"Bearer {fleet['web1'].credential}")
    assert polled_ids(response) == [str(fleet["command"].pk)]
    for endpoint in ("heartbeat", "ack", "log", "complete", "bundle"):
        method, url, body = urls[endpoint]
        assert call(client, method, url, body, f"Bearer {fleet['web1'].credential}").status_code == 200


# --- registration -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["instance credential", "revoked", "unknown", "empty"])
def test_registering_without_a_usable_token_gets_a_401_and_changes_nothing(client, fleet, kind):
    token, raw = RegistrationToken.issue(description="web hosts", tags={"role": "web"})
    if kind == "revoked":
        RegistrationToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at)
    value = {
        "instance credential": fleet["web1"].credential,
        "revoked": raw,
        "unknown": "fdr_nope",
        "empty": "",
    }
    before = database()
    body = {"token": value[kind], "name": "web-1", "tags": {"role": "db"}}
    response = call(client, "POST", "/agent/v1/register/", body, None)
    assert response.status_code in (400, 401), response.content
    assert database() == before


def test_a_token_of_another_project_cannot_take_over_an_instance_by_name(client, fleet):
    """Names are per project: the token enrols a host of its own project, and this one is untouched."""
    other = Project.objects.get(slug="other")
    _, raw = RegistrationToken.issue(description="theirs", tags={}, project=other)
    web1 = fleet["web1"]
    before = database()
    response = call(client, "POST", "/agent/v1/register/", {"token": raw, "name": "web-1"}, None)
    assert response.status_code == 201
    after = database()
    theirs = Instance.objects.get(pk=response.json()["instance_id"])
    assert theirs.pk != web1.pk and theirs.project == other
    assert [row for row in after["deployments.Instance"] if row["id"] != theirs.pk] == before[
        "deployments.Instance"
    ]
    unchanged = {label for label in before if before[label] == after[label]}
    assert set(before) - unchanged == {"deployments.Instance", "deployments.RegistrationToken"}
    assert Instance.authenticate(web1.credential).pk == web1.pk


# --- malformed payloads ---------------------------------------------------------------------------


NOT_AN_OBJECT = [
    b"{",
    b"[]",
    b'"text"',
    b"12",
    b"null",
    b"\xff\xfe{}",
    b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,  # deeper than the JSON parser's recursion limit
    b"[" * 100_000 + b"]" * 100_000,
]


@pytest.mark.parametrize("endpoint", ["poll", "heartbeat", "ack", "log", "complete", "register"])
def test_a_body_that_is_not_a_json_object_gets_a_400_and_changes_nothing(client, fleet, endpoint):
    url = "/agent/v1/register/" if endpoint == "register" else endpoints(fleet)[endpoint][1]
    before = database(skip_heartbeat_of=fleet["web1"])
    for raw in NOT_AN_OBJECT:
        response = client.post(
            url,
            data=raw,
            content_type="application/json",
            headers={"Authorization": f"Bearer {fleet['web1'].credential}"},
        )
        assert response.status_code == 400, (raw[:20], response.content[:300])
        assert response.json()["field"] == "body"
        assert database(skip_heartbeat_of=fleet["web1"]) == before


BIG = 2**31  # one past the largest value a 32-bit column holds
MALFORMED = [
    ("ack", {"timeout_seconds": BIG}, "timeout_seconds"),
    ("ack", {"timeout_seconds": 10**30}, "timeout_seconds"),
    ("ack", {"timeout_seconds": 1.5}, "timeout_seconds"),
    ("ack", {"timeout_seconds": True}, "timeout_seconds"),
    ("ack", {"timeout_seconds": [60]}, "timeout_seconds"),
    ("log", {"lines": [{"seq": BIG, "text": "x"}]}, "lines[0].seq"),
    ("log", {"lines": [{"seq": 10**30, "text": "x"}]}, "lines[0].seq"),
    ("log", {"lines": [{"seq": 1.0, "text": "x"}]}, "lines[0].seq"),
    ("log", {"lines": [{"seq": True, "text": "x"}]}, "lines[0].seq"),
    ("log", {"lines": [{"seq": 1, "text": {"a": 1}}]}, "lines[0].text"),
    ("log", {"lines": [{"seq": 1, "text": "x"}] * 1001}, "lines"),
    ("log", {"lines": ["x"]}, "lines[0]"),
    ("log", {"lines": None}, "lines"),
    ("log", {}, "lines"),
    ("complete", {}, "status"),
    ("complete", {"status": ["Succeeded"]}, "status"),
    ("complete", {"status": "Succeeded", "diagnostics": [1]}, "diagnostics"),
    ("complete", {"status": "Failed", "diagnostics": {"message": 5}}, "diagnostics.message"),
    ("complete", {"status": "Failed", "diagnostics": {"error_code": ["x"]}}, "diagnostics.error_code"),
    ("complete", {"status": "Failed", "started_at": "2026-13-45T99:99:99Z"}, "started_at"),
    ("complete", {"status": "Failed", "ended_at": "yesterday"}, "ended_at"),
    ("complete", {"status": "Failed", "ended_at": 1700000000}, "ended_at"),
    ("complete", {"status": "Failed", "lines": [{"seq": BIG, "text": "x"}]}, "lines[0].seq"),
    ("register", {"token": 5, "name": "web-9"}, "token"),
    ("register", {"token": "t", "name": "../etc"}, "name"),
    ("register", {"token": "t", "name": "web-9", "tags": ["role"]}, "tags"),
    ("register", {"token": "t", "name": "web-9", "tags": {"role": 5}}, "tags"),
]


@pytest.mark.parametrize("endpoint", ["ack", "log", "complete", "register"])
def test_a_malformed_payload_gets_a_400_naming_the_field_and_changes_nothing(client, fleet, endpoint):
    url = "/agent/v1/register/" if endpoint == "register" else endpoints(fleet)[endpoint][1]
    before = database(skip_heartbeat_of=fleet["web1"])
    for body, field in [(body, field) for name, body, field in MALFORMED if name == endpoint]:
        response = call(client, "POST", url, body, f"Bearer {fleet['web1'].credential}")
        assert response.status_code == 400, (field, response.content[:300])
        answer = response.json()
        assert answer["field"] == field
        assert answer["detail"].startswith(field)
        assert database(skip_heartbeat_of=fleet["web1"]) == before, field


@pytest.mark.parametrize(
    "wait, answer",
    [
        ("soon", "refused"),
        ("nan", "refused"),
        ("inf", "the longest wait"),
        ("1e400", "the longest wait"),
        ("-inf", "at once"),
        ("-5", "at once"),
    ],
)
def test_a_strange_poll_wait_is_refused_or_clamped(client, fleet, settings, wait, answer):
    """Polled by a host with nothing to do, so the poll lasts as long as its (clamped) wait."""
    settings.POLL_WAIT_MAX = 3  # well inside the offline window's clamp (AGENT_OFFLINE_AFTER / 3)
    url, credential = f"/agent/v1/poll/?wait={wait}", f"Bearer {fleet['outsider'].credential}"
    box: dict = {}

    def poll():
        started = time.monotonic()
        box["response"] = call(client, "POST", url, {}, credential)
        box["took"] = time.monotonic() - started

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), f"a poll with wait={wait} had not answered after 20 s"
    response, took = box["response"], box["took"]
    if answer == "refused":
        assert response.status_code == 400, response.content[:300]
        assert response.json()["field"] == "wait"
    elif answer == "the longest wait":
        assert polled_ids(response) == []
        assert settings.POLL_WAIT_MAX - 0.1 <= took < settings.POLL_WAIT_MAX + 5, took
    else:
        assert polled_ids(response) == []
        assert took < settings.POLL_WAIT_MAX - 1, took
