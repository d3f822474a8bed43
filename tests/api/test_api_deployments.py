from __future__ import annotations

import pytest
from factories import make_fleet

from deployments.models import Application, Deployment, Revision

pytestmark = pytest.mark.django_db

URL = "/api/v1/deployments/"


def deploy(api_client, rev, **extra):
    body = {"application": "shop", "deployment_group": "web", "revision": rev.pk, **extra}
    return api_client.post(URL, body, format="json")


def test_a_deployment_without_instances_fails_with_no_instances(api_client, group, revision):
    response = deploy(api_client, revision)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["id"].startswith("d-")
    assert body["status"] == "Failed"
    assert body["error_code"] == "NO_INSTANCES"
    assert body["targets"] == []


def test_a_deployment_with_instances_goes_in_progress_with_targets_and_events(
    api_client, group, revision, project
):
    make_fleet(project, 3, name="web-{:02d}")
    response = deploy(api_client, revision, description="release 1")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "InProgress"
    assert body["creator"] == "user"
    assert body["created_by"] == "alice"
    assert body["application"] == "shop"
    assert body["deployment_group"] == "web"
    assert body["deployment_config"] == "CodeDeployDefault.HalfAtATime"
    assert body["revision"] == revision.pk
    assert body["minimum_healthy"] == 2
    assert body["overview"]["Pending"] == 3
    assert [t["instance"] for t in body["targets"]] == ["web-01", "web-02", "web-03"]
    events = body["targets"][0]["lifecycle_events"]
    assert [e["name"] for e in events][:2] == ["ApplicationStop", "DownloadBundle"]
    assert events[0] == {
        "name": "ApplicationStop",
        "status": "Pending",
        "started_at": None,
        "ended_at": None,
        "duration_ms": None,
        "diagnostics": None,
    }
    assert api_client.get(f"{URL}{body['id']}/").json() == body


def test_the_advance_after_commit_starts_the_first_batch(
    api_client, group, revision, django_capture_on_commit_callbacks, project
):
    make_fleet(project, 3, name="web-{:02d}")
    with django_capture_on_commit_callbacks(execute=True):
        body = deploy(api_client, revision).json()
    detail = api_client.get(f"{URL}{body['id']}/").json()
    assert detail["overview"]["InProgress"] == 1
    assert detail["overview"]["Pending"] == 2


def test_overrides_are_applied(api_client, group, revision, project):
    make_fleet(project, 2, name="web-{:02d}")
    body = deploy(
        api_client,
        revision,
        deployment_config="CodeDeployDefault.AllAtOnce",
        file_exists_behavior="OVERWRITE",
        ignore_application_stop_failures=True,
    ).json()
    assert body["deployment_config"] == "CodeDeployDefault.AllAtOnce"
    assert body["file_exists_behavior"] == "OVERWRITE"
    assert body["ignore_application_stop_failures"] is True


def test_a_second_deployment_in_the_same_group_is_queued(api_client, group, revision, project):
    make_fleet(project, 2, name="web-{:02d}")
    first = deploy(api_client, revision).json()
    second = deploy(api_client, revision).json()
    assert first["status"] == "InProgress"
    assert second["status"] == "Queued"


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("application", {"application": "nope"}),
        ("deployment_group", {"deployment_group": "nope"}),
        ("revision", {"revision": 999999}),
        ("deployment_config", {"deployment_config": "nope"}),
        ("file_exists_behavior", {"file_exists_behavior": "SOMETIMES"}),
    ],
)
def test_it_names_the_field_of_a_bad_request(api_client, group, revision, field, change):
    response = deploy(api_client, revision, **change)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert response.json()["detail"].startswith(f"{field}: ")


def test_it_refuses_a_revision_of_another_application(api_client, group):
    other = Revision.objects.create(
        application=Application.objects.create(name="blog", project=group.application.project),
        bundle_type="zip",
    )
    response = api_client.post(
        URL, {"application": "shop", "deployment_group": "web", "revision": other.pk}, format="json"
    )
    assert response.status_code == 400
    assert "belongs to another application" in response.json()["errors"]["revision"][0]


def test_stop_stops_a_running_deployment(
    api_client, group, revision, django_capture_on_commit_callbacks, project
):
    make_fleet(project, 3, name="web-{:02d}")
    body = deploy(api_client, revision).json()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"{URL}{body['id']}/stop/")
    assert response.status_code == 202
    assert response.json()["id"] == body["id"]
    detail = api_client.get(f"{URL}{body['id']}/").json()
    assert detail["status"] == "Stopped"
    assert detail["error_code"] == "MANUAL_STOP"
    assert detail["overview"]["Skipped"] == 3


def test_stop_of_a_queued_deployment_stops_it_at_once(api_client, group, revision, project):
    make_fleet(project, 2, name="web-{:02d}")
    deploy(api_client, revision)
    queued = deploy(api_client, revision).json()
    response = api_client.post(f"{URL}{queued['id']}/stop/")
    assert response.status_code == 202
    assert response.json()["status"] == "Stopped"


def test_stop_of_a_finished_deployment_is_a_conflict(api_client, group, revision):
    body = deploy(api_client, revision).json()
    response = api_client.post(f"{URL}{body['id']}/stop/")
    assert response.status_code == 409
    assert "already finished (Failed)" in response.json()["detail"]


def test_the_list_is_newest_first_with_overview_counts(api_client, group, revision, project):
    make_fleet(project, 2, name="web-{:02d}")
    first = deploy(api_client, revision).json()
    second = deploy(api_client, revision).json()
    results = api_client.get(URL).json()["results"]
    assert [d["id"] for d in results] == [second["id"], first["id"]]
    assert "targets" not in results[0]
    assert results[1]["overview"]["Pending"] == 2
    assert results[0]["overview"]["Pending"] == 0


def test_the_list_filters(api_client, group, revision, project):
    make_fleet(project, 2, name="web-{:02d}")
    first = deploy(api_client, revision).json()
    second = deploy(api_client, revision).json()

    def ids(**params):
        return [d["id"] for d in api_client.get(URL, params).json()["results"]]

    assert ids(status="Queued") == [second["id"]]
    assert ids(status="InProgress") == [first["id"]]
    assert ids(application="blog") == []
    assert ids(deployment_group="shop/web", creator="user") == [second["id"], first["id"]]
    assert ids(deployment_group="db") == []
    assert api_client.get(URL, {"status": "Sleeping"}).status_code == 400


def test_the_events_endpoint_pages_with_a_cursor(api_client, group, revision, project):
    make_fleet(project, 2, name="web-{:02d}")
    body = deploy(api_client, revision).json()
    events_url = f"{URL}{body['id']}/events/"
    everything = api_client.get(events_url).json()
    seqs = [e["seq"] for e in everything["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert everything["events"][0]["status"] == "Created"
    assert everything["last_seq"] == seqs[-1]
    assert everything["status"] == "InProgress"
    assert everything["done"] is False
    page = api_client.get(events_url, {"after": 0, "limit": 1}).json()
    assert [e["seq"] for e in page["events"]] == [1]
    assert page["has_more"] is True
    rest = api_client.get(events_url, {"after": page["last_seq"]}).json()
    assert [e["seq"] for e in rest["events"]] == seqs[1:]
    empty = api_client.get(events_url, {"after": everything["last_seq"]}).json()
    assert empty["events"] == []
    assert empty["last_seq"] == everything["last_seq"]


def test_the_events_of_a_finished_deployment_say_done(api_client, group, revision):
    body = deploy(api_client, revision).json()
    answer = api_client.get(f"{URL}{body['id']}/events/").json()
    assert answer["status"] == "Failed"
    assert answer["done"] is True


@pytest.mark.parametrize("after", ["-1", "abc", "1.5"])
def test_the_events_endpoint_refuses_a_bad_cursor(api_client, group, revision, after):
    body = deploy(api_client, revision).json()
    response = api_client.get(f"{URL}{body['id']}/events/", {"after": after})
    assert response.status_code == 400
    assert "after" in response.json()["errors"]


def test_the_events_limit_is_capped(api_client, group, revision):
    body = deploy(api_client, revision).json()
    assert api_client.get(f"{URL}{body['id']}/events/", {"limit": 100000}).status_code == 200
    assert api_client.get(f"{URL}{body['id']}/events/", {"limit": 0}).status_code == 400


def test_an_unknown_deployment_is_404(api_client, db):
    assert api_client.get(f"{URL}d-NOPE12345/").status_code == 404
    assert not Deployment.objects.exists()
