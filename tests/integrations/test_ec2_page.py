"""The EC2 discovery page of a deployment group: owners set filters and see "agent missing"."""

from __future__ import annotations

import pytest
from django.test import Client
from factories import make_app, make_group, make_member, make_project

from integrations.models import Ec2Discovery

pytestmark = pytest.mark.django_db


@pytest.fixture
def group():
    return make_group(make_app(project=make_project("shop")), "web")


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_owner_saves_tag_filters_and_asg_names(group):
    owner = login(make_member(group.application.project, "olivia", "owner"))
    response = owner.post(
        f"/integrations/p/shop/ec2/{group.pk}/",
        {"tag_filters": "app=shop\nteam", "autoscaling_groups": "shop-asg\n"},
    )
    assert response.status_code == 302
    discovery = Ec2Discovery.objects.get(group=group)
    assert discovery.tag_filters == [{"key": "app", "value": "shop"}, {"key": "team", "value": ""}]
    assert discovery.autoscaling_groups == ["shop-asg"]


def test_the_page_lists_instances_with_no_agent(group):
    Ec2Discovery.objects.create(
        group=group, matched=["i-1", "i-2"], missing=["i-2"], tag_filters=[{"key": "app", "value": "shop"}]
    )
    html = (
        login(make_member(group.application.project, "olivia", "owner"))
        .get(f"/integrations/p/shop/ec2/{group.pk}/")
        .content.decode()
    )
    assert "Agent missing" in html and "i-2" in html and "app=shop" in html


@pytest.mark.parametrize("role", ["contributor", "viewer"])
def test_it_refuses_members_below_owner(group, role):
    user = make_member(group.application.project, role, role)
    assert login(user).get(f"/integrations/p/shop/ec2/{group.pk}/").status_code == 403


def test_a_group_of_another_project_is_not_found(group):
    other = make_project("other")
    owner = login(make_member(other, "olivia", "owner"))
    assert owner.get(f"/integrations/p/other/ec2/{group.pk}/").status_code == 404
