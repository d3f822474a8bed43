"""The demo's rows: `manage.py demo_setup` twice gives one of each, and the same login."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from dashboard.demo import PROJECT_SLUG, TAG_SET, DemoError, hosts, seed
from deployments.models import Application, DeploymentGroup, Instance, RegistrationToken
from projects.models import Membership, Project, Role

pytestmark = pytest.mark.django_db


def _setup(settings, tmp_path) -> str:
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    return out.getvalue()


def test_demo_setup_twice_creates_each_row_once_and_prints_the_same_login(settings, tmp_path):
    first, second = _setup(settings, tmp_path), _setup(settings, tmp_path)
    password = (tmp_path / "demo" / "login").read_text().strip()
    assert f"Demo login: demo / {password}" in first
    assert first == second
    assert (tmp_path / "demo" / "login").stat().st_mode & 0o777 == 0o600
    assert authenticate(username="demo", password=password) is not None
    project = Project.objects.get(slug=PROJECT_SLUG)
    assert Membership.objects.get(project=project).role == Role.OWNER
    group = DeploymentGroup.objects.get(application__project=project)
    assert (group.name, group.deployment_config.name, group.tag_set) == (
        "web",
        "CodeDeployDefault.HalfAtATime",
        TAG_SET,
    )
    assert Project.objects.count() == Application.objects.count() == 1


def test_a_changed_demo_password_is_set_back_to_the_printed_one(settings, tmp_path):
    _setup(settings, tmp_path)
    user = authenticate(username="demo", password=(tmp_path / "demo" / "login").read_text().strip())
    user.set_password("something else")
    user.save()
    output = _setup(settings, tmp_path)
    password = output.rsplit(" / ", 1)[1].strip()
    assert authenticate(username="demo", password=password) is not None


def test_another_projects_application_of_the_same_name_is_left_alone(settings, tmp_path):
    other = Project.objects.create(name="Other", slug="other")
    theirs = Application.objects.create(name="demo-web", project=other)
    _setup(settings, tmp_path)
    mine = Application.objects.get(project__slug=PROJECT_SLUG)
    assert mine.name == "demo-web" and mine.pk != theirs.pk
    assert Application.objects.get(pk=theirs.pk).project == other


def test_a_host_that_lost_its_credential_gets_its_name_released(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    user, _ = seed.ensure_login(tmp_path)
    project, _, _ = seed.ensure_project(user)
    other = Project.objects.create(name="Other", slug="other")
    host, kept = hosts(tmp_path)[:2]
    for name, where in ((host.name, project), (kept.name, project), (host.name, other)):
        instance = Instance(name=name, project=where)
        instance.rotate_credential()
        instance.save()
    assert seed.release_names(project, [host.name]) == [host.name]
    live = Instance.objects.filter(deregistered_at__isnull=True)
    assert sorted(live.values_list("project__slug", "name")) == sorted(
        [(PROJECT_SLUG, kept.name), ("other", host.name)]
    )


def test_a_stored_credential_counts_only_for_its_own_instance_in_the_demo_project(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    user, _ = seed.ensure_login(tmp_path)
    project, _, _ = seed.ensure_project(user)
    raw = seed.registration_token(project, user)
    token = RegistrationToken.find_usable(raw)
    assert token.project == project and token.tags == {"env": "demo", "role": "web"}
    host, other = hosts(tmp_path)[:2]
    instance = Instance(name=host.name, project=project, registration_token=token)
    credential = instance.rotate_credential()
    instance.save()
    assert seed.registered(host, project, credential)
    assert not seed.registered(other, project, credential)
    assert not seed.registered(host, project, "fdi_wrong")
    assert not seed.registered(host, project, None)
    instance.deregister()
    assert not seed.registered(host, project, credential)


@pytest.mark.parametrize("value", ["eighty", "80", "70000"])
def test_a_bad_port_base_is_refused_with_the_variable_named(monkeypatch, tmp_path, value):
    monkeypatch.setenv("FLEETDECK_DEMO_PORT_BASE", value)
    with pytest.raises(DemoError, match="FLEETDECK_DEMO_PORT_BASE must be"):
        hosts(tmp_path)


def test_the_four_hosts_take_consecutive_ports_from_the_base_and_alternate_zones(monkeypatch, tmp_path):
    monkeypatch.setenv("FLEETDECK_DEMO_PORT_BASE", "9081")
    assert [(h.name, h.port, h.az) for h in hosts(tmp_path)] == [
        ("demo-web-1", 9081, "a"),
        ("demo-web-2", 9082, "b"),
        ("demo-web-3", 9083, "a"),
        ("demo-web-4", 9084, "b"),
    ]
