"""Fleet, token, install and group pages; and who may see each dashboard page at all."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone
from factories import (
    install,
    make_app,
    make_deployment,
    make_group,
    make_instance,
    make_member,
    make_project,
    make_revision,
    make_user,
)

from deployments.models import RegistrationToken
from projects.models import Role

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Page:
    path: str
    method: str = "get"
    # Expected status per role; "outsider" is always 404 and "anonymous" a redirect to login.
    owner: int = 200
    contributor: int = 200
    viewer: int = 200


PAGES = [
    Page("/p/shop/"),
    Page("/p/shop/fleet/"),
    Page("/p/shop/fleet/?tag=role=web&state=online"),
    Page("/p/shop/fleet/tokens/"),
    Page("/p/shop/fleet/tokens/new/", contributor=403, viewer=403),
    Page("/p/shop/fleet/tokens/new/", method="post", owner=201, contributor=403, viewer=403),
    Page("/p/shop/fleet/tokens/{token}/revoke/", method="post", owner=302, contributor=403, viewer=403),
    Page("/p/shop/fleet/install/"),
    Page("/p/shop/groups/shop/web/"),
]
ROLES = ["owner", "contributor", "viewer", "outsider", "anonymous"]


@pytest.fixture
def project():
    project = make_project("shop")
    app = make_app("shop", project=project)
    group = make_group(app, "web")
    rev = make_revision(app)
    make_deployment(group, rev)
    web1 = make_instance(
        "web-1", project=project, agent_version="0.1.0", last_seen=timezone.now(), role="web"
    )
    install(web1, group, rev)
    return project


def client_as(project, role: str) -> Client:
    client = Client()
    if role == "anonymous":
        return client
    if role == "outsider":
        client.force_login(make_user("oscar"))
    else:
        client.force_login(make_member(project, role, role))
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.method} {p.path}")
def test_every_page_answers_each_role_as_the_table_says(project, page, role):
    token, _ = RegistrationToken.issue(project=project)
    path = page.path.format(token=token.pk)
    client = client_as(project, role)

    response = getattr(client, page.method)(path, {"description": "x"} if page.method == "post" else None)

    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    elif role == "outsider":
        assert response.status_code == 404
    else:
        assert response.status_code == getattr(page, role)


def test_every_page_has_an_h1_and_a_breadcrumb_back_to_the_project(project):
    client = client_as(project, "owner")
    for path in [
        "/p/shop/fleet/",
        "/p/shop/fleet/tokens/",
        "/p/shop/fleet/tokens/new/",
        "/p/shop/fleet/install/",
        "/p/shop/groups/shop/web/",
    ]:
        html = client.get(path).content.decode()
        assert "<h1>" in html, path
        breadcrumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.S).group(0)
        assert 'href="/p/shop/"' in breadcrumbs, path


def test_fleet_lists_instances_with_tags_version_state_and_installed_revision(project):
    make_instance("web-2", project=project, online=False, role="web", env="prod")
    html = client_as(project, "viewer").get("/p/shop/fleet/").content.decode()
    assert "web-1" in html and "web-2" in html
    assert "env=prod" in html
    assert "0.1.0" in html
    assert "status-offline" in html and "status-online" in html
    assert "shop/web: r" in html
    assert "just now" in html  # last seen moments ago, never "0 minutes ago"
    assert "0\xa0minutes" not in html


def test_fleet_filters_by_tag_and_state(project):
    make_instance("db-1", project=project, role="db")
    make_instance("db-2", project=project, online=False, role="db")
    client = client_as(project, "viewer")

    def names(query):
        return re.findall(
            r'<tr class="instance-row">\s*<td>([^<]+)</td>',
            client.get(f"/p/shop/fleet/{query}").content.decode(),
        )

    assert names("?tag=role=db") == ["db-1", "db-2"]
    assert names("?tag=role=db&state=offline") == ["db-2"]
    assert names("?tag=role") == ["db-1", "db-2", "web-1"]
    assert names("?state=online") == ["db-1", "web-1"]


def test_fleet_paginates_by_fifty(project):
    for n in range(55):
        make_instance(f"n{n:02d}", project=project)
    client = client_as(project, "viewer")
    first = client.get("/p/shop/fleet/").content.decode()
    second = client.get("/p/shop/fleet/?page=2").content.decode()
    assert first.count('class="instance-row"') == 50
    assert second.count('class="instance-row"') == 6
    assert "Page 2 of 2" in second


def test_fleet_never_shows_other_projects_hosts(project):
    make_instance("secret-host", project=make_project("other"))
    assert "secret-host" not in client_as(project, "owner").get("/p/shop/fleet/").content.decode()


def test_creating_a_token_shows_it_once_with_the_install_command(project):
    client = client_as(project, "owner")
    response = client.post(
        "/p/shop/fleet/tokens/new/",
        {"description": "web hosts", "tags": "role=web\nenv=prod", "expires_in_days": "7"},
    )
    assert response.status_code == 201
    token = RegistrationToken.objects.get(description="web hosts")
    assert token.project == project
    assert token.tags == {"role": "web", "env": "prod"}
    assert token.expires_at is not None
    raw = re.search(r'value="(fdr_[^"]+)"', response.content.decode()).group(1)
    assert RegistrationToken.find_usable(raw) == token
    html = response.content.decode()
    assert f"curl -fsSL http://testserver/agent/install.sh | sudo sh -s -- --token {raw}" in html
    assert raw not in client.get("/p/shop/fleet/tokens/").content.decode()


def test_a_bad_tag_is_explained_and_nothing_is_created(project):
    response = client_as(project, "owner").post("/p/shop/fleet/tokens/new/", {"tags": "role"})
    assert response.status_code == 200
    assert "is not a tag: write key=value" in response.content.decode()
    assert not RegistrationToken.objects.exists()


def test_owner_revokes_a_token(project):
    token, _ = RegistrationToken.issue(project=project)
    client = client_as(project, "owner")
    response = client.post(f"/p/shop/fleet/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in client.get("/p/shop/fleet/tokens/").content.decode()


def test_revoke_needs_csrf(project):
    token, _ = RegistrationToken.issue(project=project)
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_member(project, "owner", Role.OWNER))
    assert client.post(f"/p/shop/fleet/tokens/{token.pk}/revoke/").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_another_projects_token_cannot_be_revoked(project):
    token, _ = RegistrationToken.issue(project=make_project("other"))
    assert client_as(project, "owner").post(f"/p/shop/fleet/tokens/{token.pk}/revoke/").status_code == 404


@pytest.mark.parametrize("role", ["contributor", "viewer"])
def test_non_owners_see_no_create_or_revoke_buttons(project, role):
    RegistrationToken.issue(project=project)
    html = client_as(project, role).get("/p/shop/fleet/tokens/").content.decode()
    assert "Create a token" not in html
    assert "Revoke" not in html


def test_owner_sees_create_and_revoke_buttons(project):
    RegistrationToken.issue(project=project)
    html = client_as(project, "owner").get("/p/shop/fleet/tokens/").content.decode()
    assert "Create a token" in html
    assert "Revoke" in html


def test_install_page_shows_the_exact_commands(project):
    html = client_as(project, "viewer").get("/p/shop/fleet/install/").content.decode()
    assert "curl -fsSL http://testserver/agent/install.sh | sudo sh -s -- --token &lt;token&gt;" in html
    assert "--find-links http://testserver/agent/dist/ fleetdeck-agent" in html


def test_group_page_shows_config_filters_hosts_and_recent_deployments(project):
    make_instance("web-2", project=project, online=False, role="web")
    make_instance("db-1", project=project, role="db")
    html = client_as(project, "viewer").get("/p/shop/groups/shop/web/").content.decode()
    assert "CodeDeployDefault.OneAtATime" in re.sub(r"<[^>]+>", "", html)
    assert "role=web" in html
    assert "Matching instances (2)" in html
    assert "db-1" not in html
    assert "outdated" in html  # web-2 never got the group's last good revision
    assert "/p/shop/deployments/d-" in html


def test_an_unknown_group_is_a_404(project):
    assert client_as(project, "owner").get("/p/shop/groups/shop/nope/").status_code == 404


def test_the_token_form_defaults_to_seven_days_and_takes_a_limit_of_hosts(project):
    client = client_as(project, "owner")
    html = client.get("/p/shop/fleet/tokens/new/").content.decode()
    assert re.search(r'name="expires_in_days"[^>]*value="7"', html)
    response = client.post("/p/shop/fleet/tokens/new/", {"description": "one-off", "max_uses": "1"})
    assert response.status_code == 201
    assert RegistrationToken.objects.get(description="one-off").max_uses == 1


def test_the_tokens_page_shows_which_hosts_each_token_registered(project):
    token, _ = RegistrationToken.issue(project=project, description="web hosts", max_uses=5, uses=2)
    for name in ("web-7", "web-8"):
        instance = make_instance(name, project=project)
        instance.registration_token = token
        instance.save()
    make_instance("unrelated-host", project=project)
    html = client_as(project, "owner").get("/p/shop/fleet/tokens/").content.decode()
    row = html[html.index("web hosts") :].split("</tr>")[0]
    assert "web-7" in row and "web-8" in row and "unrelated-host" not in row
    assert "2 of 5" in row
