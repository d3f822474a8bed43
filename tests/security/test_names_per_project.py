"""Names are per project (issue 14, item 11).

The attacks reproduced: one project squats an application name another project needs, and an
"already exists" answer confirms that another project has an object of that name. Application,
custom config and live-instance names are now unique within a project only. API paths keep their
form and resolve a name within the caller's projects; a name that is ambiguous among them needs
`project` (a query parameter, or a body field for writes), and a 400 says so.
"""

from __future__ import annotations

import pytest
from django.test import Client
from factories import make_app, make_group, make_instance, make_member, make_project, make_revision
from rest_framework.test import APIClient

from deployments.models import Application, Deployment, DeploymentGroup, Instance, RegistrationToken
from projects.models import Membership, Role

pytestmark = pytest.mark.django_db

APPS = "/api/v1/applications/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def alice():
    """Owner of two projects, `north` and `south`, each with an application `shop` and a host `web-1`."""
    north, south = make_project("north"), make_project("south")
    alice = make_member(north, "alice", Role.OWNER)
    Membership.objects.create(project=south, user=alice, role=Role.OWNER)
    for project in (north, south):
        app = make_app("shop", project=project)
        make_group(app, "web")
        make_revision(app)
        make_instance("web-1", project=project, role="web")
    return alice


@pytest.fixture
def mallory():
    return make_member(make_project("squat"), "mallory", Role.OWNER)


# --- squatting and leaks ----------------------------------------------------------------------------


def test_a_name_taken_in_another_project_can_still_be_used_and_nothing_says_it_exists(mallory):
    victim = make_project("victim")
    owner = make_member(victim, "owner", Role.OWNER)
    squat = client_for(mallory).post(APPS, {"name": "payments", "project": "squat"}, format="json")
    assert squat.status_code == 201
    mine = client_for(owner).post(APPS, {"name": "payments", "project": "victim"}, format="json")
    assert mine.status_code == 201, mine.json()
    assert Application.objects.filter(name="payments").count() == 2
    # And the squatter, trying again after the victim, learns nothing either: its own name, its own 400.
    again = client_for(mallory).post(APPS, {"name": "payments", "project": "squat"}, format="json")
    assert again.status_code == 400
    assert "squat" in again.json()["detail"] and "victim" not in again.json()["detail"]


def test_an_application_name_is_unique_within_its_project(alice):
    response = client_for(alice).post(APPS, {"name": "shop", "project": "north"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["name"] == ["north already has an application named shop."]


def test_the_wizard_accepts_an_application_name_another_project_uses(mallory, client):
    make_app("payments", project=make_project("victim"))
    client.force_login(mallory)
    client.post("/projects/new/project/", {"name": "Mine", "slug": "mine", "template": "blank"})
    client.post("/projects/new/repository/", {"kind": "none"})
    response = client.post(
        "/projects/new/target/",
        {
            "application": "payments",
            "group": "web",
            "tags": "role=web",
            "deployment_config": "CodeDeployDefault.OneAtATime",
        },
    )
    assert response.status_code == 302, response.content.decode()
    assert "already exists" not in response.content.decode()


@pytest.mark.django_db(transaction=True)  # the agent API works in a thread pool: committed rows only
def test_a_host_name_is_unique_among_the_live_instances_of_its_project_only(alice, settings, monkeypatch):
    from django.db import connections

    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # no wake-up subscription (see tests/agent_api/conftest.py)
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    south = Membership.objects.get(user=alice, project__slug="south").project
    _, raw = RegistrationToken.issue(project=south)
    response = Client().post(
        "/agent/v1/register/", {"token": raw, "name": "web-9"}, content_type="application/json"
    )
    assert response.status_code == 201
    north = Membership.objects.get(user=alice, project__slug="north").project
    _, raw = RegistrationToken.issue(project=north)
    again = Client().post(
        "/agent/v1/register/", {"token": raw, "name": "web-9"}, content_type="application/json"
    )
    assert again.status_code == 201
    assert sorted(Instance.objects.filter(name="web-9").values_list("project__slug", flat=True)) == [
        "north",
        "south",
    ]


# --- resolving a name among the caller's projects ----------------------------------------------------


def test_a_name_in_two_of_your_projects_needs_the_project_and_a_400_says_so(alice):
    client = client_for(alice)
    for url in (
        f"{APPS}shop/",
        f"{APPS}shop/deployment-groups/",
        f"{APPS}shop/revisions/",
        "/api/v1/instances/web-1/",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        body = response.json()
        assert "project" in body["errors"], url
        assert "north" in body["detail"] and "south" in body["detail"] and "?project=" in body["detail"]
    assert client.get(f"{APPS}shop/?project=south").json()["project"] == "south"
    groups = client.get(f"{APPS}shop/deployment-groups/?project=north").json()["results"]
    assert [g["name"] for g in groups] == ["web"]
    assert client.get("/api/v1/instances/web-1/?project=north").json()["project"] == "north"


def test_a_write_names_the_project_in_its_body(alice):
    client = client_for(alice)
    revision = Application.objects.get(project__slug="south").revisions.get()
    body = {"application": "shop", "deployment_group": "web", "revision": revision.pk}
    ambiguous = client.post("/api/v1/deployments/", body, format="json")
    assert ambiguous.status_code == 400
    assert "project" in ambiguous.json()["errors"]
    assert not Deployment.objects.exists()
    created = client.post("/api/v1/deployments/", {**body, "project": "south"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["project"] == "south"
    assert Deployment.objects.get().application.project.slug == "south"
    assert [d["project"] for d in client.get("/api/v1/deployments/?application=shop").json()["results"]] == [
        "south"
    ]
    group = client.post(
        f"{APPS}shop/deployment-groups/",
        {
            "project": "north",
            "name": "db",
            "tag_filters": [{"key": "role", "value": "db", "type": "KEY_AND_VALUE"}],
        },
        format="json",
    )
    assert group.status_code == 201
    assert DeploymentGroup.objects.get(name="db").application.project.slug == "north"
    tags = client.patch("/api/v1/instances/web-1/?project=south", {"tags": {"role": "db"}}, format="json")
    assert tags.status_code == 200
    assert Instance.objects.get(project__slug="south").tags == {"role": "db"}
    assert Instance.objects.get(project__slug="north").tags == {"role": "web"}


def test_a_project_you_are_not_in_does_not_resolve_a_name(alice, mallory):
    make_app("shop", project=Membership.objects.get(user=mallory).project)
    client = client_for(mallory)
    assert client.get(f"{APPS}shop/").json()["project"] == "squat"  # only its own: not ambiguous
    assert client.get(f"{APPS}shop/?project=north").status_code == 404
    assert client.get(f"{APPS}shop/?project=nowhere").status_code == 404


def test_lists_filter_by_project(alice):
    client = client_for(alice)
    assert [a["project"] for a in client.get(f"{APPS}?project=south").json()["results"]] == ["south"]
    assert [i["project"] for i in client.get("/api/v1/instances/?project=north").json()["results"]] == [
        "north"
    ]
    assert client.get(f"{APPS}?project=nowhere").status_code == 400


def test_a_write_whose_body_names_another_project_than_the_objects_is_refused(alice, mallory):
    client = client_for(mallory)
    make_app("solo", project=Membership.objects.get(user=mallory).project)
    body = {
        "project": "north",
        "name": "db",
        "tag_filters": [{"key": "role", "value": "db", "type": "KEY_AND_VALUE"}],
    }
    response = client.post(f"{APPS}solo/deployment-groups/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["project"] == ["It is in squat, not in north."]
    assert not DeploymentGroup.objects.filter(name="db").exists()


def test_a_deployment_whose_body_names_another_project_than_its_application_is_refused(alice):
    make_member(make_project("west"), "wendy", Role.OWNER)
    west = Membership.objects.get(user__username="wendy").project
    Membership.objects.create(project=west, user=alice, role=Role.OWNER)
    north = Application.objects.get(project__slug="north")
    Application.objects.filter(project__slug="south").delete()  # shop is now only in north
    body = {
        "application": "shop",
        "deployment_group": "web",
        "revision": north.revisions.get().pk,
        "project": "west",
    }
    response = client_for(alice).post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["project"] == ["It is in north, not in west."]
    assert not Deployment.objects.exists()
