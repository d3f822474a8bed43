"""/api/v1/projects/{slug}/ec2-discovery/: the EC2 fleets of the Integrations page over the API,
owners only; a stranger learns nothing."""

from __future__ import annotations

import pytest
from factories import api_for, make_app, make_group, make_member, make_project

from integrations.models import Ec2Discovery

pytestmark = pytest.mark.django_db

BASE = "/api/v1/projects/shop/ec2-discovery/"


@pytest.fixture
def group():
    return make_group(make_app(project=make_project("shop")), "web")


def test_an_owner_sets_the_filters_and_a_lookup_is_queued(
    group, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("integrations.api.ec2.discover_ec2.delay", queued.append)
    owner = api_for(make_member(group.application.project, "olivia", "owner"))
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.put(
            BASE + "shop/web/",
            {
                "tag_filters": [{"key": "app", "value": "shop"}, {"key": "team", "value": ""}],
                "autoscaling_groups": ["shop-asg"],
            },
            format="json",
        )
    assert response.status_code == 200, response.json()
    discovery = Ec2Discovery.objects.get(group=group)
    assert discovery.tag_filters == [{"key": "app", "value": "shop"}, {"key": "team", "value": ""}]
    assert discovery.autoscaling_groups == ["shop-asg"]
    assert queued == [group.pk]


def test_the_list_shows_each_group_and_its_missing_agents(group):
    Ec2Discovery.objects.create(group=group, matched=["i-1", "i-2"], missing=["i-2"])
    owner = api_for(make_member(group.application.project, "olivia", "owner"))
    (row,) = owner.get(BASE).json()
    assert row["application"] == "shop" and row["deployment_group"] == "web"
    assert row["matched"] == ["i-1", "i-2"] and row["missing"] == ["i-2"]


def test_a_malformed_filter_is_refused(group):
    owner = api_for(make_member(group.application.project, "olivia", "owner"))
    response = owner.put(BASE + "shop/web/", {"tag_filters": ["app=shop"]}, format="json")
    assert response.status_code == 400 and "tag_filters" in response.json()["errors"]
    assert not Ec2Discovery.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "contributor"])
def test_members_below_owner_are_refused(group, role):
    client = api_for(make_member(group.application.project, role, role))
    assert client.get(BASE).status_code == 403
    assert client.put(BASE + "shop/web/", {"tag_filters": []}, format="json").status_code == 403


def test_a_stranger_learns_nothing(group):
    stranger = api_for(make_member(make_project("elsewhere"), "mallory", "owner"))
    for path in (BASE, BASE + "shop/web/"):
        response = stranger.get(path)
        assert response.status_code == 404
        assert response.json() == stranger.get(path.replace("/shop/", "/nope/", 1)).json()
    assert stranger.put(BASE + "shop/web/", {"tag_filters": []}, format="json").status_code == 404
    assert not Ec2Discovery.objects.exists()
