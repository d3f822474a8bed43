from __future__ import annotations

import pytest
from factories import make_instance

from deployments.models import Instance, InstanceGroupState

pytestmark = pytest.mark.django_db

URL = "/api/v1/instances/"


def names(api_client, params=None) -> list[str]:
    response = api_client.get(URL, params or {})
    assert response.status_code == 200, response.json()
    return [i["name"] for i in response.json()["results"]]


@pytest.fixture
def fleet(project):
    make_instance("web-1", project=project, role="web", env="prod")
    make_instance("web-2", project=project, role="web", env="staging")
    db_host = make_instance("db-1", project=project, role="db", env="prod")
    Instance.objects.filter(pk=db_host.pk).update(online=False)


def test_it_shows_an_instance_without_its_credential(api_client, fleet):
    body = api_client.get(URL + "web-1/").json()
    assert body["tags"] == {"role": "web", "env": "prod"}
    assert body["online"] is True
    assert body["installed"] == []
    assert not any("credential" in key for key in body)


def test_it_filters_by_tag_value_and_tag_key(api_client, fleet):
    assert names(api_client, {"tag": "role=web"}) == ["web-1", "web-2"]
    assert names(api_client, {"tag": ["role=web", "env=prod"]}) == ["web-1"]
    assert names(api_client, {"tag": "env"}) == ["db-1", "web-1", "web-2"]
    assert names(api_client, {"tag": "owner"}) == []
    assert names(api_client, {"tag": "role=we"}) == []
    assert names(api_client, {"tag": "odd key__x=1"}) == []


def test_it_filters_by_online(api_client, fleet):
    assert names(api_client, {"online": "false"}) == ["db-1"]
    assert names(api_client, {"online": "true"}) == ["web-1", "web-2"]
    assert api_client.get(URL, {"online": "maybe"}).status_code == 400


def test_it_filters_by_deployment_group(api_client, fleet, group):
    assert names(api_client, {"deployment_group": "shop/web"}) == ["web-1", "web-2"]
    response = api_client.get(URL, {"deployment_group": "shop/nope"})
    assert response.status_code == 400
    assert "deployment_group" in response.json()["errors"]


def test_it_edits_tags_and_nothing_else(api_client, fleet):
    response = api_client.patch(URL + "web-2/", {"tags": {"role": "db"}}, format="json")
    assert response.status_code == 200, response.json()
    assert Instance.objects.get(name="web-2").tags == {"role": "db"}
    refused = api_client.patch(URL + "web-2/", {"online": False}, format="json")
    assert refused.status_code == 400
    assert "online" in refused.json()["errors"]


def test_it_refuses_tags_that_are_not_strings(api_client, fleet):
    response = api_client.patch(URL + "web-2/", {"tags": {"port": 80}}, format="json")
    assert response.status_code == 400
    assert "tags" in response.json()["errors"]


@pytest.mark.parametrize("body", [7, [1, 2], "tags"])
def test_a_body_that_is_not_an_object_is_a_400_saying_what_to_send(api_client, fleet, body):
    response = api_client.patch(URL + "web-2/", body, format="json")
    assert response.status_code == 400
    assert "JSON object" in response.json()["detail"]
    assert Instance.objects.get(name="web-2").tags == {"role": "web", "env": "staging"}


def test_deregistering_stops_the_credential_and_hides_the_instance(api_client, db, group):
    instance = Instance(name="web-9", project=group.application.project, tags={"role": "web"})
    raw = instance.rotate_credential()
    instance.save()
    assert Instance.authenticate(raw) is not None
    response = api_client.post(URL + "web-9/deregister/")
    assert response.status_code == 200
    assert response.json()["deregistered_at"] is not None
    assert Instance.authenticate(raw) is None
    assert names(api_client) == []
    assert names(api_client, {"state": "deregistered"}) == ["web-9"]
    assert api_client.get("/api/v1/applications/shop/deployment-groups/web/").json()["instances"] == []
    assert api_client.post(URL + "web-9/deregister/").status_code == 200


def test_it_shows_installed_revisions_per_group(api_client, fleet, group, revision):
    web1 = Instance.objects.get(name="web-1")
    InstanceGroupState.objects.create(instance=web1, group=group, revision=revision, last_status="Succeeded")
    installed = api_client.get(URL + "web-1/").json()["installed"]
    assert installed == [
        {
            "application": "shop",
            "deployment_group": "web",
            "revision": revision.pk,
            "revision_sha256": revision.sha256,
            "last_status": "Succeeded",
            "last_deployment": None,
            "updated_at": installed[0]["updated_at"],
        }
    ]


def test_the_list_costs_the_same_queries_for_many_instances(
    api_client, group, revision, django_assert_max_num_queries, project
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api_client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    for number in range(2):
        host = make_instance(f"a-{number}", project=project)
        InstanceGroupState.objects.create(instance=host, group=group, revision=revision)
    few = count()
    for number in range(20):
        host = make_instance(f"b-{number}", project=project)
        InstanceGroupState.objects.create(instance=host, group=group, revision=revision)
    assert count() == few
