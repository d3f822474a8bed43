"""A registration token enrols new hosts; it never takes over a registered one (issue 14, item 5).

The attacks reproduced here: registering a live host's name to rotate its credential (the real agent
is locked out and the caller gets its commands), overriding the token's tags (role=web becoming
role=db), resurrecting a deregistered host, and enrolling more hosts than the token allows.
"""

from __future__ import annotations

import gc
import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone
from factories import make_app, make_group, make_project, make_revision

from deployments import engine
from deployments.models import HostCommand, Instance, RegistrationToken

# The agent API does its database work in a thread pool, which sees only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

REGISTER = "/agent/v1/register/"
POLL = "/agent/v1/poll/?wait=0"


@pytest.fixture(autouse=True)
def _agent_api(settings, monkeypatch):
    """As in tests/agent_api/conftest.py: no Redis wake-up subscription, pool connections closed."""

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    yield
    # Connections the agent API opened in thread pools of finished event loops close when collected;
    # collect them now, so PostgreSQL can drop the test database.
    gc.collect()


@pytest.fixture
def project():
    return make_project("zq-fleet")


@pytest.fixture
def token(project) -> str:
    return RegistrationToken.issue(project=project, tags={"role": "web"}, description="web hosts")[1]


def register(token: str, name: str = "web-1", credential: str | None = None, **fields):
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    body = {"token": token, "name": name, **fields}
    return Client().post(REGISTER, body, content_type="application/json", headers=headers)


def poll(credential: str):
    return Client().post(
        POLL, {}, content_type="application/json", headers={"Authorization": f"Bearer {credential}"}
    )


# --- taking over a live host ---------------------------------------------------------------------


def test_registering_a_live_hosts_name_without_its_credential_is_a_409_and_locks_no_one_out(token):
    real = register(token).json()
    attack = register(token, hostname="attacker.example", tags={"extra": "x"})
    assert attack.status_code == 409
    detail = attack.json()["detail"]
    assert "web-1" in detail and "deregister" in detail.lower()
    assert "credential" not in attack.json()
    # The real agent keeps working, and the instance is exactly as it was.
    assert poll(real["credential"]).status_code == 200
    instance = Instance.objects.get()
    assert instance.pk == real["instance_id"]
    assert instance.hostname == "" and instance.tags == {"role": "web"}
    assert RegistrationToken.objects.get().uses == 1


def test_the_attacker_never_receives_the_hosts_commands(token, project):
    real = register(token).json()
    app = make_app("zq-app", project=project)
    engine.create_deployment(group=make_group(app, "web"), revision=make_revision(app), user=None)
    assert HostCommand.objects.filter(instance_id=real["instance_id"]).exists()
    attack = register(token)
    assert attack.status_code == 409
    commands = poll(real["credential"]).json()["commands"]
    assert commands and commands[0]["lifecycle_event"] == "ApplicationStop"


def test_another_hosts_credential_does_not_unlock_a_name(token):
    register(token, "web-1")
    web2 = register(token, "web-2").json()
    attack = register(token, "web-1", credential=web2["credential"])
    assert attack.status_code == 409
    assert sorted(Instance.objects.values_list("name", flat=True)) == ["web-1", "web-2"]
    assert poll(web2["credential"]).status_code == 200


def test_a_host_that_registers_again_with_its_credential_keeps_its_identity(token):
    first = register(token, hostname="old.example").json()
    again = register(token, credential=first["credential"], hostname="new.example", agent_version="0.3.0")
    assert again.status_code == 200, again.json()
    body = again.json()
    assert body["instance_id"] == first["instance_id"]
    # The credential it holds stays valid: a re-run that dies before writing its config locks nothing out.
    assert body["credential"] == first["credential"]
    assert poll(first["credential"]).status_code == 200
    instance = Instance.objects.get()
    assert (instance.hostname, instance.agent_version) == ("new.example", "0.3.0")
    # Registering again enrols no new host, so it uses nothing up.
    assert RegistrationToken.objects.get().uses == 1


# --- tags ----------------------------------------------------------------------------------------


def test_a_request_cannot_override_the_tokens_tags(token):
    response = register(token, tags={"role": "db"})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "tags"
    assert "role" in body["detail"] and "web" in body["detail"]
    assert not Instance.objects.exists()
    assert RegistrationToken.objects.get().uses == 0


def test_a_request_may_add_keys_the_token_does_not_set(token):
    response = register(token, tags={"env": "prod", "role": "web"})
    assert response.status_code == 201
    assert response.json()["tags"] == {"role": "web", "env": "prod"}


def test_registering_again_cannot_override_the_tokens_tags_either(token):
    first = register(token).json()
    response = register(token, credential=first["credential"], tags={"role": "db"})
    assert response.status_code == 400
    assert Instance.objects.get().tags == {"role": "web"}


# --- deregistered hosts --------------------------------------------------------------------------


def test_a_deregistered_host_stays_revoked_and_its_name_registers_as_a_new_instance(token):
    old = register(token).json()
    Instance.objects.get(pk=old["instance_id"]).deregister()
    # Even with its old credential, the deregistered instance does not come back.
    again = register(token, credential=old["credential"])
    assert again.status_code == 201
    new = again.json()
    assert new["instance_id"] != old["instance_id"]
    assert new["credential"] != old["credential"]
    assert Instance.objects.get(pk=old["instance_id"]).deregistered_at is not None
    assert poll(old["credential"]).status_code == 401
    assert poll(new["credential"]).status_code == 200
    assert Instance.objects.filter(name="web-1", deregistered_at__isnull=True).count() == 1


# --- expiry and limited uses ---------------------------------------------------------------------


def test_an_expired_token_registers_nothing(project):
    _, raw = RegistrationToken.issue(project=project, expires_at=timezone.now() - timedelta(seconds=1))
    response = register(raw)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert not Instance.objects.exists()


def test_a_token_limited_to_n_uses_enrols_at_most_n_hosts(project):
    token, raw = RegistrationToken.issue(project=project, max_uses=2)
    assert register(raw, "web-1").status_code == 201
    assert register(raw, "web-2").status_code == 201
    third = register(raw, "web-3")
    assert third.status_code == 401
    assert "used" in third.json()["detail"] and "2" in third.json()["detail"]
    token.refresh_from_db()
    assert token.uses == 2 and not token.is_usable
    assert Instance.objects.count() == 2


def test_a_host_registering_again_may_use_a_token_whose_uses_are_spent(project):
    _, raw = RegistrationToken.issue(project=project, max_uses=1)
    first = register(raw).json()
    assert register(raw, credential=first["credential"]).status_code == 200
    assert register(raw, "web-2").status_code == 401


def test_concurrent_registrations_cannot_exceed_the_limit(project):
    token, raw = RegistrationToken.issue(project=project, max_uses=3)
    hosts = 8
    barrier = threading.Barrier(hosts)
    statuses: list[int] = []

    def enrol(number: int) -> None:
        barrier.wait()
        try:
            statuses.append(register(raw, f"web-{number}").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=enrol, args=(n,)) for n in range(hosts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [201] * 3 + [401] * 5
    token.refresh_from_db()
    assert token.uses == 3
    assert Instance.objects.count() == 3


def test_two_hosts_racing_for_one_name_get_one_instance(token):
    barrier = threading.Barrier(4)
    answers: list = []

    def enrol() -> None:
        barrier.wait()
        try:
            answers.append(register(token, "web-1"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=enrol) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    assert Instance.objects.count() == 1
    assert RegistrationToken.objects.get().uses == 1
