"""Profile, API-token and project-settings pages, and every page here as each role, from one table."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from dashboard.models import Profile
from deployments.models import Application
from projects.models import ApiToken, Membership, Project, Role

pytestmark = pytest.mark.django_db

ROLES = ("owner", "contributor", "viewer", "outsider", "anonymous")
LOGIN = "login"  # anonymous: redirected to the login page
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0BsbhyPYfUVxkL7SfOjE5KxDQ9KTBzqzyE3j3oVZA alice@laptop"


@dataclass(frozen=True)
class Row:
    method: str
    url: str
    expect: tuple
    data: dict | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


TABLE = [
    Row("get", "/projects/new/project/", (200, 200, 200, 200, LOGIN)),
    Row("get", "/projects/new/starter/static-nginx.tgz", (200, 200, 200, 200, LOGIN)),
    Row("get", "/profile/", (200, 200, 200, 200, LOGIN)),
    Row(
        "post",
        "/profile/",
        (302, 302, 302, 302, LOGIN),
        {"display_name": "Me", "email": "", "ssh_public_key": ""},
    ),
    Row("get", "/profile/tokens/", (200, 200, 200, 200, LOGIN)),
    Row("post", "/profile/tokens/", (201, 201, 201, 201, LOGIN), {"name": "ci"}),
    Row("get", "/accounts/password_change/", (200, 200, 200, 200, LOGIN)),
    Row("get", "/p/shop/settings/", (200, 403, 403, 404, LOGIN)),
    Row("post", "/p/shop/settings/", (302, 403, 403, 404, LOGIN), {"name": "Shop 2", "description": ""}),
    Row("get", "/p/shop/team/", (200, 200, 200, 404, LOGIN)),
    Row("get", "/p/shop/settings/members/", (302, 302, 302, 404, LOGIN)),
    Row(
        "post",
        "/p/shop/team/",
        (302, 403, 403, 404, LOGIN),
        {"username": "newbie", "role": "viewer"},
    ),
    Row(
        "post", "/p/shop/settings/members/victor/role/", (302, 403, 403, 404, LOGIN), {"role": "contributor"}
    ),
    Row("post", "/p/shop/settings/members/victor/remove/", (302, 403, 403, 404, LOGIN)),
    Row("post", "/p/shop/settings/delete/", (302, 403, 403, 404, LOGIN), {"confirm": "shop"}),
]

USERNAMES = {"owner": "alice", "contributor": "carol", "viewer": "victor", "outsider": "olga"}


@pytest.fixture
def shop(django_user_model, user):
    project = Project.objects.create(name="Shop", slug="shop")
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    for name, role in (("carol", Role.CONTRIBUTOR), ("victor", Role.VIEWER)):
        Membership.objects.create(
            project=project, user=django_user_model.objects.create_user(name), role=role
        )
    olga = django_user_model.objects.create_user("olga")
    other = Project.objects.create(name="Other", slug="other")
    Membership.objects.create(project=other, user=olga, role=Role.OWNER)
    django_user_model.objects.create_user("newbie")
    return project


def client_for(role, django_user_model) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(django_user_model.objects.get(username=USERNAMES[role]))
    return client


CASES = [
    pytest.param(row, role, expected, id=f"{row}-{role}")
    for row in TABLE
    for role, expected in zip(ROLES, row.expect, strict=True)
]


@pytest.mark.parametrize(("row", "role", "expected"), CASES)
def test_every_page_answers_each_role_as_the_table_says(shop, django_user_model, row, role, expected):
    client = client_for(role, django_user_model)
    response = getattr(client, row.method)(row.url, row.data or {})
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == expected, response.content.decode()[:1000]


def login(client, user):
    client.force_login(user)
    return client


def test_the_profile_saves_name_email_and_a_valid_ssh_key(client, user):
    login(client, user)
    response = client.post(
        "/profile/", {"display_name": "Alice", "email": "a@example.com", "ssh_public_key": ED25519}
    )
    assert response.status_code == 302
    profile = Profile.of(user)
    assert (profile.display_name, profile.ssh_public_key) == ("Alice", ED25519)
    user.refresh_from_db()
    assert user.email == "a@example.com"


@pytest.mark.parametrize(
    "key",
    [
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP== old",
        "ssh-ed25519 not*base64",
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGx0BsbhyPYfUVxkL7SfOjE5KxDQ9KTBzqzyE3j3oVZA",
        "just some text",
    ],
)
def test_the_profile_refuses_a_malformed_ssh_key(client, user, key):
    login(client, user)
    response = client.post("/profile/", {"display_name": "", "email": "", "ssh_public_key": key})
    assert response.status_code == 200
    assert "ssh_public_key" in response.context["form"].errors


def test_a_token_is_shown_once_stored_hashed_and_works_until_revoked(client, user):
    from rest_framework.test import APIClient

    login(client, user)
    response = client.post("/profile/tokens/", {"name": "ci"})
    assert response.status_code == 201
    raw = response.context["raw"]
    assert raw.startswith("fdp_") and raw in response.content.decode()
    token = ApiToken.objects.get(user=user)
    assert token.token_hash != raw and raw not in token.token_hash
    listing = client.get("/profile/tokens/").content.decode()
    assert raw not in listing and token.prefix in listing
    api = APIClient(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.get("/api/v1/projects/").status_code == 200
    assert client.post(f"/profile/tokens/{token.pk}/revoke/").status_code == 302
    assert api.get("/api/v1/projects/").status_code == 401


@pytest.mark.parametrize(("choice", "days"), [("30", 30), ("365", 365), ("", None)])
def test_a_new_token_expires_after_the_chosen_time_or_never(client, user, choice, days):
    from datetime import timedelta

    from django.utils import timezone

    login(client, user)
    assert client.post("/profile/tokens/", {"name": "ci", "expires_in": choice}).status_code == 201
    token = ApiToken.objects.get(user=user)
    if days is None:
        assert token.expires_at is None
    else:
        assert abs(token.expires_at - (timezone.now() + timedelta(days=days))) < timedelta(minutes=1)


def test_an_expired_token_is_listed_as_expired_and_refused(client, user):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework.test import APIClient

    token, raw = ApiToken.issue(user, "old ci", expires_in_days=30)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert APIClient(HTTP_AUTHORIZATION=f"Token {raw}").get("/api/v1/projects/").status_code == 401
    login(client, user)
    assert ">expired<" in client.get("/profile/tokens/").content.decode()


def test_nobody_can_revoke_someone_elses_token(client, user, django_user_model):
    token, _ = ApiToken.issue(django_user_model.objects.create_user("bob"), "bob's")
    login(client, user)
    assert client.post(f"/profile/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_last_owner_cannot_be_removed_or_demoted(client, user, shop):
    login(client, user)
    client.post("/p/shop/settings/members/alice/role/", {"role": "viewer"})
    client.post("/p/shop/settings/members/alice/remove/")
    assert shop.role_of(user) == Role.OWNER
    page = client.get("/p/shop/team/").content.decode()
    assert "at least one owner" in page


def test_viewers_read_the_team_without_the_controls_that_change_it(client, django_user_model, shop):
    login(client, django_user_model.objects.get(username="victor"))
    page = client.get("/p/shop/team/").content.decode()
    assert "carol" in page and "Contributor" in page
    assert "Add a member" not in page and "/remove/" not in page


def test_deleting_needs_the_slug_typed_and_removes_everything(client, user, shop):
    Application.objects.create(name="shop-web", project=shop)
    login(client, user)
    response = client.post("/p/shop/settings/delete/", {"confirm": "nope"})
    assert response.status_code == 400
    assert Project.objects.filter(slug="shop").exists()
    assert client.post("/p/shop/settings/delete/", {"confirm": "shop"})["Location"] == "/"
    assert not Project.objects.filter(slug="shop").exists()
    assert not Application.objects.exists()


def test_logout_and_password_change_use_the_styled_pages(client, user):
    login(client, user)
    page = client.get("/accounts/password_change/").content.decode()
    assert "Change password" in page and 'class="topbar"' in page
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": "correct horse battery staple",
            "new_password1": "n3w-Pa55-w0rd!",
            "new_password2": "n3w-Pa55-w0rd!",
        },
    )
    assert response["Location"] == "/accounts/password_change/done/"
    assert "Password changed" in client.get("/accounts/password_change/done/").content.decode()
    client.post("/accounts/logout/")
    assert client.get("/profile/")["Location"].startswith("/accounts/login/")
