"""Every API endpoint as owner, contributor, viewer, outsider and anonymous, from one table.

Outsiders (members of no project) get 404 for anything inside a project and empty lists (the
deployment configs' list still shows the built-ins, which are global); members
below the needed role get 403 naming it; creates that name a project the caller may not use get 400
naming `project`; anonymous callers get 401.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from api_helpers import build_archive, bundle_files
from factories import make_instance
from rest_framework.test import APIClient

from deployments import engine
from deployments.models import DeploymentConfig, RegistrationToken
from projects.models import Membership, Role

pytestmark = pytest.mark.django_db

ROLES = ("owner", "contributor", "viewer", "outsider", "anonymous")
EMPTY = "empty"  # 200 with no results
GROUP = "/api/v1/applications/shop/deployment-groups/"
FILTER = [{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}]


@dataclass(frozen=True)
class Row:
    method: str
    url: str
    expect: tuple  # one status per ROLES entry, or EMPTY
    body: object = None
    multipart: bool = False

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


def new_app(world):
    return {"name": "blog", "project": "team"}


def new_token(world):
    return {"project": "team", "tags": {"role": "web"}}


def new_config(world):
    return {
        "name": "Custom.Three",
        "project": "team",
        "minimum_healthy_hosts": {"type": "HOST_COUNT", "value": 3},
    }


def deploy_body(world):
    return {"application": "shop", "deployment_group": "web", "revision": world["revision"]}


def bundle(world):
    path = build_archive(world["tmp"] / "b.tgz", "tgz", bundle_files())
    return {"bundle": open(path, "rb")}


TABLE = [
    # Projects and members.
    Row("get", "/api/v1/projects/", (200, 200, 200, EMPTY, 401)),
    Row("post", "/api/v1/projects/", (201, 201, 201, 201, 401), lambda w: {"name": "N", "slug": "new"}),
    Row("get", "/api/v1/projects/team/", (200, 200, 200, 404, 401)),
    Row("patch", "/api/v1/projects/team/", (200, 403, 403, 404, 401), lambda w: {"description": "x"}),
    Row("delete", "/api/v1/projects/team/", (204, 403, 403, 404, 401)),
    Row("get", "/api/v1/projects/team/members/", (200, 200, 200, 404, 401)),
    Row(
        "post",
        "/api/v1/projects/team/members/",
        (201, 403, 403, 404, 401),
        lambda w: {"username": "newbie", "role": "viewer"},
    ),
    Row("get", "/api/v1/projects/team/members/victor/", (200, 200, 200, 404, 401)),
    Row(
        "patch",
        "/api/v1/projects/team/members/victor/",
        (200, 403, 403, 404, 401),
        lambda w: {"role": "contributor"},
    ),
    Row("delete", "/api/v1/projects/team/members/victor/", (204, 403, 403, 404, 401)),
    # Applications, groups, revisions.
    Row("get", "/api/v1/applications/", (200, 200, 200, EMPTY, 401)),
    Row("post", "/api/v1/applications/", (201, 201, 403, 400, 401), new_app),
    Row("get", "/api/v1/applications/shop/", (200, 200, 200, 404, 401)),
    Row("delete", "/api/v1/applications/shop/", (409, 403, 403, 404, 401)),
    Row("get", GROUP, (200, 200, 200, 404, 401)),
    Row("post", GROUP, (201, 201, 403, 404, 401), lambda w: {"name": "api", "tag_filters": FILTER}),
    Row("get", f"{GROUP}web/", (200, 200, 200, 404, 401)),
    Row(
        "patch",
        f"{GROUP}web/",
        (200, 200, 403, 404, 401),
        lambda w: {"deployment_config": "CodeDeployDefault.AllAtOnce"},
    ),
    Row("delete", f"{GROUP}web/", (204, 204, 403, 404, 401)),
    Row("get", "/api/v1/applications/shop/revisions/", (200, 200, 200, 404, 401)),
    Row("get", "/api/v1/applications/shop/revisions/{revision}/", (200, 200, 200, 404, 401)),
    Row("post", "/api/v1/applications/shop/revisions/", (201, 201, 403, 404, 401), bundle, multipart=True),
    # Deployments.
    Row("get", "/api/v1/deployments/", (200, 200, 200, EMPTY, 401)),
    Row("post", "/api/v1/deployments/", (201, 201, 403, 400, 401), deploy_body),
    Row("get", "/api/v1/deployments/{deployment}/", (200, 200, 200, 404, 401)),
    # The fixture's deployment has already failed (no agent answers), so allowed callers reach the 409.
    Row("post", "/api/v1/deployments/{deployment}/stop/", (409, 409, 403, 404, 401)),
    Row("get", "/api/v1/deployments/{deployment}/events/", (200, 200, 200, 404, 401)),
    Row("get", "/api/v1/deployments/{deployment}/plan/", (200, 200, 200, 404, 401)),
    Row("post", "/api/v1/deployment-plans/", (200, 200, 403, 400, 401), deploy_body),
    # Custom configurations belong to a project; everyone signed in reads the built-ins (the list).
    Row("get", "/api/v1/deployment-configs/", (200, 200, 200, 200, 401)),
    Row("get", "/api/v1/deployment-configs/Custom.Two/", (200, 200, 200, 404, 401)),
    Row("post", "/api/v1/deployment-configs/", (201, 201, 403, 400, 401), new_config),
    Row(
        "patch",
        "/api/v1/deployment-configs/Custom.Two/",
        (200, 200, 403, 404, 401),
        lambda w: {"minimum_healthy_hosts": {"type": "HOST_COUNT", "value": 1}},
    ),
    Row("delete", "/api/v1/deployment-configs/Custom.Two/", (204, 204, 403, 404, 401)),
    # The fleet.
    Row("get", "/api/v1/instances/", (200, 200, 200, EMPTY, 401)),
    Row("get", "/api/v1/instances/web-01/", (200, 200, 200, 404, 401)),
    Row("patch", "/api/v1/instances/web-01/", (200, 200, 403, 404, 401), lambda w: {"tags": {"role": "web"}}),
    Row("post", "/api/v1/instances/web-01/deregister/", (200, 403, 403, 404, 401)),
    Row("get", "/api/v1/registration-tokens/", (200, 200, 200, EMPTY, 401)),
    Row("post", "/api/v1/registration-tokens/", (201, 403, 403, 400, 401), new_token),
    Row("get", "/api/v1/registration-tokens/{token}/", (200, 200, 200, 404, 401)),
    Row("post", "/api/v1/registration-tokens/{token}/revoke/", (200, 403, 403, 404, 401)),
]


@pytest.fixture
def world(project, user, group, revision, django_user_model, tmp_path):
    """alice owns `team`; carol contributes, victor views, olga is on no project at all."""
    for name, role in (("carol", Role.CONTRIBUTOR), ("victor", Role.VIEWER)):
        member = django_user_model.objects.create_user(name)
        Membership.objects.create(project=project, user=member, role=role)
    django_user_model.objects.create_user("olga")
    django_user_model.objects.create_user("newbie")
    make_instance("web-01", project=project)
    deployment = engine.create_deployment(group=group, revision=revision, user=user)
    token, _ = RegistrationToken.issue(project=project, tags={"role": "web"})
    DeploymentConfig.objects.create(
        name="Custom.Two", project=project, minimum_healthy_type="HOST_COUNT", minimum_healthy_value=2
    )
    return {"revision": revision.pk, "deployment": deployment.pk, "token": token.pk, "tmp": tmp_path}


def client_for(role: str, django_user_model) -> APIClient:
    client = APIClient()
    if role != "anonymous":
        username = {"owner": "alice", "contributor": "carol", "viewer": "victor", "outsider": "olga"}[role]
        client.force_authenticate(django_user_model.objects.get(username=username))
    return client


CASES = [
    pytest.param(row, role, expected, id=f"{row}-{role}")
    for row in TABLE
    for role, expected in zip(ROLES, row.expect, strict=True)
]


@pytest.mark.parametrize(("row", "role", "expected"), CASES)
def test_each_endpoint_answers_each_role_as_the_table_says(world, django_user_model, row, role, expected):
    client = client_for(role, django_user_model)
    url = row.url.format(**world)
    kwargs = {}
    if row.body is not None:
        kwargs = {"data": row.body(world), "format": "multipart" if row.multipart else "json"}
    response = getattr(client, row.method)(url, **kwargs)
    if expected == EMPTY:
        assert response.status_code == 200, response.content
        assert response.json()["count"] == 0
        return
    assert response.status_code == expected, response.content
    if expected == 403 and role != "anonymous":
        assert "role" in response.json()["detail"]
    if expected == 400 and row.body in (new_app, new_token, new_config):
        assert "project" in response.json()["errors"]


def test_a_viewer_is_told_which_role_is_needed(world, django_user_model):
    response = client_for("viewer", django_user_model).post(
        f"{GROUP}", {"name": "x", "tag_filters": FILTER}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "This needs the contributor role in this project; you are a viewer."


def test_lists_show_only_the_callers_projects(world, django_user_model, project):
    from deployments.models import Application
    from projects.models import Project

    other = Project.objects.create(name="Other", slug="other")
    Application.objects.create(name="secret", project=other)
    make_instance("hidden-01", project=other)
    client = client_for("viewer", django_user_model)
    assert [a["name"] for a in client.get("/api/v1/applications/").json()["results"]] == ["shop"]
    assert [i["name"] for i in client.get("/api/v1/instances/").json()["results"]] == ["web-01"]
    assert client.get("/api/v1/applications/secret/").status_code == 404
    assert client.get("/api/v1/instances/hidden-01/").status_code == 404


def test_creating_needs_a_project_slug(world, api_client):
    response = api_client.post("/api/v1/applications/", {"name": "blog"}, format="json")
    assert response.status_code == 400
    assert "project" in response.json()["errors"]
    response = api_client.post("/api/v1/applications/", {"name": "blog", "project": "nope"}, format="json")
    assert response.json()["errors"]["project"] == ["No project 'nope' that you are a member of."]
