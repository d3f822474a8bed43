"""The one access API: `Project.objects.for_user(user, role)` and `projects.access.require`."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from projects.access import require, require_slug
from projects.models import Membership, Project, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    User = get_user_model()
    users = {name: User.objects.create_user(name) for name in ("owner", "contributor", "viewer", "outsider")}
    shop = Project.objects.create(name="Shop", slug="shop")
    blog = Project.objects.create(name="Blog", slug="blog")
    for role in ("owner", "contributor", "viewer"):
        Membership.objects.create(project=shop, user=users[role], role=role)
    Membership.objects.create(project=blog, user=users["viewer"], role=Role.OWNER)
    return users, shop, blog


def test_each_role_includes_the_roles_below_it():
    assert Role.at_least(Role.VIEWER) == ["viewer", "contributor", "owner"]
    assert Role.at_least(Role.CONTRIBUTOR) == ["contributor", "owner"]
    assert Role.at_least(Role.OWNER) == ["owner"]
    assert Role.grants("owner", "viewer") and not Role.grants("viewer", "contributor")


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError):
        Role.at_least("admin")


@pytest.mark.parametrize(
    ("who", "role", "slugs"),
    [
        ("owner", Role.VIEWER, ["shop"]),
        ("owner", Role.OWNER, ["shop"]),
        ("contributor", Role.CONTRIBUTOR, ["shop"]),
        ("contributor", Role.OWNER, []),
        ("viewer", Role.VIEWER, ["blog", "shop"]),
        ("viewer", Role.CONTRIBUTOR, ["blog"]),
        ("outsider", Role.VIEWER, []),
    ],
)
def test_for_user_lists_the_projects_where_the_user_holds_the_role(world, who, role, slugs):
    users, _, _ = world
    assert list(Project.objects.for_user(users[who], role).values_list("slug", flat=True)) == slugs


def test_for_user_lists_nothing_for_anonymous_or_deactivated_users(world):
    users, _, _ = world
    assert not Project.objects.for_user(AnonymousUser()).exists()
    users["owner"].is_active = False
    users["owner"].save()
    assert not Project.objects.for_user(users["owner"]).exists()


def test_for_user_is_a_queryset_that_composes(world):
    users, _, _ = world
    assert Project.objects.for_user(users["viewer"]).filter(slug="shop").count() == 1


def test_require_returns_the_membership_of_a_member_with_the_role(world):
    users, shop, _ = world
    membership = require(users["contributor"], shop, Role.CONTRIBUTOR)
    assert (membership.role, membership.project) == ("contributor", shop)


def test_require_gives_outsiders_a_404_whatever_the_role(world):
    users, shop, _ = world
    for role in Role:
        with pytest.raises(Http404):
            require(users["outsider"], shop, role)
    with pytest.raises(Http404):
        require(AnonymousUser(), shop)
    with pytest.raises(Http404):
        require_slug(users["owner"], "no-such-project")


def test_require_gives_members_below_the_role_a_403_naming_both_roles(world):
    users, shop, _ = world
    with pytest.raises(PermissionDenied, match="needs the owner role in this project; you are a viewer"):
        require(users["viewer"], shop, Role.OWNER)


def test_a_deactivated_member_is_an_outsider(world):
    users, shop, _ = world
    users["owner"].is_active = False
    users["owner"].save()
    with pytest.raises(Http404):
        require(users["owner"], shop)
