"""/api/v1/projects/{slug}/triggers/ and the delivery logs: owners only, a stranger learns nothing,
the trigger's secret (and a Slack URL) is write-only, and the trigger form's checks apply."""

from __future__ import annotations

import pytest
from factories import api_for, make_app, make_group, make_member, make_project

from integrations.models import GitHubDelivery, Trigger, TriggerDelivery

pytestmark = pytest.mark.django_db

BASE = "/api/v1/projects/shop"
SECRET = "trigger-signing-secret"
SLACK = "https://hooks.slack.example/services/T000/B000/XXXXSECRET"


@pytest.fixture
def project():
    return make_project("shop")


@pytest.fixture
def group(project):
    return make_group(make_app("shop", project=project), "web")


@pytest.fixture
def trigger(group):
    return Trigger.objects.create(
        group=group, name="ops", events=["DeploymentFailure"], target="https://hooks.example/x", secret=SECRET
    )


@pytest.fixture
def owner(project):
    return api_for(make_member(project, "olivia", "owner"))


def requests_for(trigger):
    return [
        ("get", "/triggers/", None),
        ("post", "/triggers/", {"name": "x", "application": "shop", "deployment_group": "web", "events": []}),
        ("get", f"/triggers/{trigger.pk}/", None),
        ("patch", f"/triggers/{trigger.pk}/", {"target": "https://evil.example/"}),
        ("delete", f"/triggers/{trigger.pk}/", None),
        ("get", f"/triggers/{trigger.pk}/deliveries/", None),
        ("get", "/deliveries/", None),
        ("get", "/github-deliveries/", None),
    ]


@pytest.mark.parametrize("role", ["viewer", "contributor"])
def test_members_below_owner_are_refused(project, trigger, role):
    client = api_for(make_member(project, role, role))
    for method, path, body in requests_for(trigger):
        response = getattr(client, method)(BASE + path, body, format="json")
        assert response.status_code == 403, (method, path)
        assert SECRET not in response.content.decode()
    trigger.refresh_from_db()
    assert trigger.target == "https://hooks.example/x"


def test_a_stranger_from_another_project_learns_nothing(project, trigger):
    TriggerDelivery.objects.create(trigger=trigger, event="DeploymentFailure", deployment_id="d-X")
    stranger = api_for(make_member(make_project("elsewhere"), "mallory", "owner"))
    for method, path, body in requests_for(trigger):
        response = getattr(stranger, method)(BASE + path, body, format="json")
        missing = getattr(stranger, method)("/api/v1/projects/nope" + path, body, format="json")
        assert response.status_code == missing.status_code == 404, (method, path)
        assert response.json() == missing.json()
    assert Trigger.objects.filter(pk=trigger.pk).exists()


def test_an_owner_of_another_project_cannot_reach_this_trigger_through_their_own(project, trigger):
    other = make_project("other")
    make_group(make_app("other", project=other), "web")
    mallory = api_for(make_member(other, "mallory", "owner"))
    assert mallory.get(f"/api/v1/projects/other/triggers/{trigger.pk}/").status_code == 404
    assert mallory.delete(f"/api/v1/projects/other/triggers/{trigger.pk}/").status_code == 404
    assert mallory.get(f"/api/v1/projects/other/triggers/{trigger.pk}/deliveries/").status_code == 404
    response = mallory.post(
        "/api/v1/projects/other/triggers/",
        {
            "name": "x",
            "application": "shop",
            "deployment_group": "web",
            "events": ["DeploymentStart"],
            "kind": "webhook",
            "target": "https://x.example/",
        },
        format="json",
    )
    assert response.status_code == 400 and "deployment_group" in response.json()["errors"]
    assert Trigger.objects.count() == 1


def test_an_owner_adds_a_trigger_and_its_secret_is_write_only(project, group, owner):
    response = owner.post(
        BASE + "/triggers/",
        {
            "name": "ops",
            "application": "shop",
            "deployment_group": "web",
            "events": ["DeploymentFailure", "InstanceFailure"],
            "kind": "webhook",
            "target": "https://hooks.example/fleetdeck",
            "secret": SECRET,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert "secret" not in data and data["secret_set"] is True
    assert data["events"] == ["DeploymentFailure", "InstanceFailure"]
    assert data["application"] == "shop" and data["deployment_group"] == "web"
    assert Trigger.objects.get().secret == SECRET
    listed = owner.get(BASE + "/triggers/").json()
    assert listed["count"] == 1 and SECRET not in str(listed)


def test_a_slack_triggers_url_is_never_read_back(project, group, owner):
    response = owner.post(
        BASE + "/triggers/",
        {
            "name": "chat",
            "application": "shop",
            "deployment_group": "web",
            "events": ["DeploymentFailure"],
            "kind": "slack",
            "target": SLACK,
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["target"] is None and "XXXXSECRET" not in response.content.decode()
    pk = response.json()["id"]
    assert owner.patch(f"{BASE}/triggers/{pk}/", {"enabled": False}, format="json").status_code == 200
    trigger = Trigger.objects.get(pk=pk)
    assert trigger.target == SLACK and trigger.enabled is False


def test_patch_changes_what_it_names(trigger, owner):
    response = owner.patch(f"{BASE}/triggers/{trigger.pk}/", {"events": ["DeploymentSuccess"]}, format="json")
    assert response.status_code == 200
    trigger.refresh_from_db()
    assert trigger.events == ["DeploymentSuccess"] and trigger.secret == SECRET
    assert trigger.target == "https://hooks.example/x"


def test_bad_input_is_refused_with_the_forms_words(group, owner, settings):
    settings.OUTBOUND_ALLOW = []
    response = owner.post(
        BASE + "/triggers/",
        {
            "name": "x",
            "application": "shop",
            "deployment_group": "web",
            "events": ["Sometimes"],
            "kind": "webhook",
            "target": "http://169.254.169.254/latest/",
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "events" in errors and "cloud metadata" in errors["target"][0]
    assert not Trigger.objects.exists()


def test_delete_removes_the_trigger(trigger, owner):
    assert owner.delete(f"{BASE}/triggers/{trigger.pk}/").status_code == 204
    assert not Trigger.objects.exists()


def test_the_delivery_logs_list_this_projects_deliveries_newest_first(project, group, trigger, owner):
    other = Trigger.objects.create(group=group, name="second", events=[], target="https://x.example/")
    TriggerDelivery.objects.create(trigger=trigger, event="DeploymentFailure", deployment_id="d-A", ok=True)
    TriggerDelivery.objects.create(
        trigger=other, event="DeploymentStart", deployment_id="d-B", error="HTTP 500"
    )
    GitHubDelivery.objects.create(project=project, delivery_id="abc", event="push", ref="refs/heads/main")
    everything = owner.get(BASE + "/deliveries/").json()
    assert [d["deployment_id"] for d in everything["results"]] == ["d-B", "d-A"]
    assert everything["results"][0]["trigger_name"] == "second"
    one = owner.get(f"{BASE}/triggers/{trigger.pk}/deliveries/").json()
    assert [d["deployment_id"] for d in one["results"]] == ["d-A"]
    assert owner.get(BASE + "/deliveries/?trigger=" + str(other.pk)).json()["count"] == 1
    assert owner.get(BASE + "/deliveries/?trigger=x").status_code == 400
    github = owner.get(BASE + "/github-deliveries/").json()
    assert github["results"][0]["delivery_id"] == "abc"
