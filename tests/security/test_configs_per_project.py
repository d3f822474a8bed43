"""Custom deployment configs belong to a project (issue 14, item 6).

The attack reproduced: an outsider changed another project's custom config from HOST_COUNT 3 to
FLEET_PERCENT 0, so that project's next rollout went to every host at once. Custom configs now belong
to one project, with names unique within it; the built-in ones are global and read-only.
"""

from __future__ import annotations

import pytest
from factories import make_app, make_group, make_member, make_project, make_revision
from rest_framework.test import APIClient

from deployments import engine
from deployments.engine import DeploymentError
from deployments.models import DeploymentConfig, DeploymentGroup
from projects.models import Membership, Role

pytestmark = pytest.mark.django_db

URL = "/api/v1/deployment-configs/"
THREE_DOWN = {"type": "HOST_COUNT", "value": 3}


@pytest.fixture
def victim():
    return make_project("zq-victim")


@pytest.fixture
def owner(victim):
    return make_member(victim, "zq-owner", Role.OWNER)


@pytest.fixture
def attacker():
    return make_member(make_project("zq-attacker"), "mallory", Role.OWNER)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def keep_three(owner):
    response = client_for(owner).post(
        URL,
        {"name": "keep-three", "project": "zq-victim", "minimum_healthy_hosts": THREE_DOWN},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return DeploymentConfig.objects.get(name="keep-three")


def test_a_custom_config_belongs_to_the_project_it_was_created_in(owner, keep_three, victim):
    assert keep_three.project == victim
    detail = client_for(owner).get(URL + "keep-three/").json()
    assert detail["project"] == "zq-victim"
    assert detail["minimum_healthy_hosts"] == THREE_DOWN
    builtin = client_for(owner).get(URL + "CodeDeployDefault.AllAtOnce/").json()
    assert builtin["project"] is None and builtin["builtin"] is True


def test_an_outsider_cannot_change_another_projects_config(attacker, keep_three):
    client = client_for(attacker)
    response = client.patch(
        URL + "keep-three/", {"minimum_healthy_hosts": {"type": "FLEET_PERCENT", "value": 0}}, format="json"
    )
    assert response.status_code == 404
    assert client.delete(URL + "keep-three/").status_code == 404
    keep_three.refresh_from_db()
    assert (keep_three.minimum_healthy_type, keep_three.minimum_healthy_value) == ("HOST_COUNT", 3)


def test_an_outsider_neither_sees_nor_learns_of_another_projects_config(attacker, keep_three):
    client = client_for(attacker)
    names = [c["name"] for c in client.get(URL).json()["results"]]
    assert "keep-three" not in names and "CodeDeployDefault.OneAtATime" in names
    assert client.get(URL + "keep-three/").status_code == 404
    # Their own config of the same name is created in their project: no "already exists".
    mine = client.post(
        URL,
        {
            "name": "keep-three",
            "project": "zq-attacker",
            "minimum_healthy_hosts": {"type": "FLEET_PERCENT", "value": 0},
        },
        format="json",
    )
    assert mine.status_code == 201, mine.json()
    assert DeploymentConfig.objects.filter(name="keep-three").count() == 2
    keep_three.refresh_from_db()
    assert keep_three.minimum_healthy_value == 3


def test_a_group_cannot_use_another_projects_config(attacker, keep_three):
    app = make_app("theirs", project=Membership.objects.get(user=attacker).project)
    make_group(app, "web")
    response = client_for(attacker).patch(
        "/api/v1/applications/theirs/deployment-groups/web/",
        {"deployment_config": "keep-three"},
        format="json",
    )
    unknown = client_for(attacker).patch(
        "/api/v1/applications/theirs/deployment-groups/web/", {"deployment_config": "no-such"}, format="json"
    )
    assert response.status_code == unknown.status_code == 400
    assert response.json()["detail"] == unknown.json()["detail"].replace("no-such", "keep-three")
    assert DeploymentGroup.objects.get(name="web").deployment_config.name == "CodeDeployDefault.OneAtATime"


def test_a_deployment_cannot_use_another_projects_config(attacker, keep_three):
    project = Membership.objects.get(user=attacker).project
    app = make_app("theirs", project=project)
    group, revision = make_group(app, "web"), make_revision(app)
    client = client_for(attacker)
    body = {"application": "theirs", "deployment_group": "web", "revision": revision.pk}
    response = client.post("/api/v1/deployments/", {**body, "deployment_config": "keep-three"}, format="json")
    unknown = client.post("/api/v1/deployments/", {**body, "deployment_config": "no-such"}, format="json")
    assert response.status_code == unknown.status_code == 400
    assert response.json()["detail"] == unknown.json()["detail"].replace("no-such", "keep-three")
    # The engine refuses it too, whatever calls it.
    with pytest.raises(DeploymentError, match="deployment config"):
        engine.create_deployment(group=group, revision=revision, config=keep_three)


def test_only_the_projects_contributors_may_change_its_configs(victim, keep_three):
    viewer = make_member(victim, "zq-viewer", Role.VIEWER)
    contributor = make_member(victim, "zq-contributor", Role.CONTRIBUTOR)
    body = {"minimum_healthy_hosts": {"type": "FLEET_PERCENT", "value": 0}}
    refused = client_for(viewer).patch(URL + "keep-three/", body, format="json")
    assert refused.status_code == 403 and "contributor" in refused.json()["detail"]
    create = client_for(viewer).post(
        URL, {"name": "mine", "project": "zq-victim", "minimum_healthy_hosts": THREE_DOWN}, format="json"
    )
    assert create.status_code == 403
    assert client_for(contributor).patch(URL + "keep-three/", body, format="json").status_code == 200


def test_builtins_stay_global_and_read_only(attacker):
    client = client_for(attacker)
    response = client.patch(
        URL + "CodeDeployDefault.OneAtATime/", {"minimum_healthy_hosts": THREE_DOWN}, format="json"
    )
    assert response.status_code == 403 and "built-in" in response.json()["detail"]
    assert client.delete(URL + "CodeDeployDefault.OneAtATime/").status_code == 403
    assert DeploymentConfig.objects.get(name="CodeDeployDefault.OneAtATime").minimum_healthy_value == 99


def test_a_name_two_of_your_projects_use_needs_the_project(owner, keep_three):
    second = make_project("zq-second")
    Membership.objects.create(project=second, user=owner, role=Role.OWNER)
    client = client_for(owner)
    created = client.post(
        URL,
        {
            "name": "keep-three",
            "project": "zq-second",
            "minimum_healthy_hosts": {"type": "HOST_COUNT", "value": 1},
        },
        format="json",
    )
    assert created.status_code == 201
    ambiguous = client.get(URL + "keep-three/")
    assert ambiguous.status_code == 400
    assert "project" in ambiguous.json()["errors"]
    assert "zq-second" in ambiguous.json()["detail"] and "zq-victim" in ambiguous.json()["detail"]
    assert client.get(URL + "keep-three/?project=zq-second").json()["minimum_healthy_hosts"]["value"] == 1
    edit = client.patch(
        URL + "keep-three/",
        {"project": "zq-victim", "minimum_healthy_hosts": {"type": "HOST_COUNT", "value": 2}},
        format="json",
    )
    assert edit.status_code == 200 and edit.json()["project"] == "zq-victim"
    assert keep_three.__class__.objects.get(pk=keep_three.pk).minimum_healthy_value == 2
    listed = client.get(URL + "?project=zq-second").json()["results"]
    assert [c["name"] for c in listed if not c["builtin"]] == ["keep-three"]


def test_deleting_a_project_deletes_its_configs_even_in_use(owner, keep_three, victim):
    app = make_app("shop", project=victim)
    group = make_group(app, "web")
    DeploymentGroup.objects.filter(pk=group.pk).update(deployment_config=keep_three)
    group.refresh_from_db()
    engine.create_deployment(group=group, revision=make_revision(app), config=keep_three)
    response = client_for(owner).delete("/api/v1/projects/zq-victim/")
    assert response.status_code == 204
    assert not DeploymentConfig.objects.filter(builtin=False).exists()
    assert DeploymentConfig.objects.filter(builtin=True).count() == 3
