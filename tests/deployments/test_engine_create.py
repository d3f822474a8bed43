"""engine.create_deployment: snapshot, plan, lifecycle events and the first commands."""

from __future__ import annotations

import pytest
from factories import (
    ALL_AT_ONCE,
    HALF_AT_A_TIME,
    complete,
    deploy,
    issued,
    make_app,
    make_config,
    make_group,
    make_instance,
    make_revision,
    refresh,
)

from deployments import engine
from deployments.lifecycle import INSTALL_EVENTS
from deployments.models import Deployment, DeploymentEvent, HostCommand, InstanceGroupState, LifecycleEvent

pytestmark = pytest.mark.django_db(transaction=True)

CODEDEPLOY_ORDER = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
]


@pytest.fixture
def app():
    return make_app()


def test_targets_are_snapshotted_in_planned_order_with_batch_numbers(app):
    for name in ["web-4", "web-2", "web-1", "web-3", "web-5"]:
        make_instance(name, role="web")
    make_instance("db-1", role="db")
    group = make_group(app, config=HALF_AT_A_TIME)
    deployment = deploy(group, make_revision(app))

    assert deployment.status == "InProgress"
    assert deployment.minimum_healthy == 3  # ceil(2.5)
    targets = list(deployment.targets.select_related("instance"))
    assert [(t.instance.name, t.position, t.batch) for t in targets] == [
        ("web-1", 0, 0),
        ("web-2", 1, 0),
        ("web-3", 2, 1),
        ("web-4", 3, 1),
        ("web-5", 4, 2),
    ]


def test_instances_matching_later_do_not_join_a_running_deployment(app):
    make_instance("web-1", role="web")
    make_instance("web-2", role="web")
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    make_instance("web-3", role="web")
    assert deployment.targets.count() == 2


def test_deregistered_instances_are_not_targeted(app):
    make_instance("web-1", role="web")
    make_instance("web-2", role="web").deregister()
    deployment = deploy(make_group(app, config=ALL_AT_ONCE), make_revision(app))
    assert [t.instance.name for t in deployment.targets.all()] == ["web-1"]


def test_each_target_gets_the_lifecycle_events_in_codedeploy_order(app):
    make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    events = LifecycleEvent.objects.filter(target__deployment=deployment).order_by("position")
    assert [e.name for e in events] == CODEDEPLOY_ORDER == list(INSTALL_EVENTS)
    assert {e.executor for e in events} == {"agent"}


def test_only_the_first_batch_gets_commands_and_only_for_its_first_event(app):
    hosts = [make_instance(f"web-{i}", role="web") for i in range(1, 5)]
    deployment = deploy(make_group(app, config=HALF_AT_A_TIME), make_revision(app))
    commands = issued(deployment=deployment)
    assert [(c.instance.name, c.lifecycle_event.name) for c in commands] == [
        ("web-1", "ApplicationStop"),
        ("web-2", "ApplicationStop"),
    ]
    assert not issued(hosts[2]) and not issued(hosts[3])
    statuses = dict(deployment.targets.values_list("instance__name", "status"))
    assert statuses == {"web-1": "InProgress", "web-2": "InProgress", "web-3": "Pending", "web-4": "Pending"}


def test_the_command_payload_carries_what_the_agent_protocol_documents(app):
    host = make_instance("web-1", role="web")
    group = make_group(app)
    revision = make_revision(app)
    deployment = deploy(group, revision)
    (command,) = issued(host)
    assert command.payload == {
        "deployment_id": deployment.id,
        "lifecycle_event": "ApplicationStop",
        "application_name": "shop",
        "deployment_group_name": "web",
        "deployment_group_id": str(group.group_id),
        "deployment_creator": "user",
        "revision": {
            "id": revision.pk,
            "source": "fleetdeck",
            "bundle_type": "zip",
            "url": f"/agent/v1/bundles/{revision.pk}/",
            "sha256": revision.sha256,
            "env": {"BUNDLE_SHA256": revision.sha256},
        },
        "file_exists_behavior": "DISALLOW",
        "ignore_application_stop_failures": False,
        "mark_successful": False,
    }


def test_deployment_overrides_reach_the_payload(app):
    host = make_instance("web-1", role="web")
    deploy(
        make_group(app),
        make_revision(app),
        file_exists_behavior="OVERWRITE",
        ignore_application_stop_failures=True,
    )
    (command,) = issued(host)
    assert command.payload["file_exists_behavior"] == "OVERWRITE"
    assert command.payload["ignore_application_stop_failures"] is True


def test_only_validate_service_is_marked_successful(app):
    host = make_instance("web-1", role="web")
    deploy(make_group(app), make_revision(app))
    seen = {}
    while commands := issued(host):
        seen[commands[0].lifecycle_event.name] = commands[0].payload["mark_successful"]
        complete(commands[0], host)
    assert list(seen) == CODEDEPLOY_ORDER
    assert [name for name, marked in seen.items() if marked] == ["ValidateService"]


def test_a_group_matching_no_instances_fails_at_once_with_no_instances(app):
    make_instance("db-1", role="db")
    deployment = deploy(make_group(app), make_revision(app))
    assert deployment.status == "Failed"
    assert deployment.error_code == "NO_INSTANCES"
    assert deployment.ended_at is not None
    assert not deployment.targets.exists()


def test_a_minimum_the_fleet_cannot_keep_fails_at_once_with_health_constraints_invalid(app):
    make_instance("web-1", role="web")
    make_instance("web-2", role="web")
    deployment = deploy(make_group(app, config=make_config("keep-two", "HOST_COUNT", 2)), make_revision(app))
    assert deployment.status == "Failed"
    assert deployment.error_code == "HEALTH_CONSTRAINTS_INVALID"
    assert HostCommand.objects.count() == 0


def test_a_revision_of_another_application_is_refused(app):
    make_instance("web-1", role="web")
    other = make_revision(make_app("other"))
    with pytest.raises(engine.DeploymentError) as exc:
        engine.create_deployment(group=make_group(app), revision=other)
    assert exc.value.field == "revision"
    assert Deployment.objects.count() == 0


def test_a_config_given_at_creation_wins_over_the_groups(app):
    for i in range(4):
        make_instance(f"web-{i}", role="web")
    deployment = deploy(make_group(app), make_revision(app), config=make_config("all", "HOST_COUNT", 0))
    assert len(issued(deployment=deployment)) == 4


def test_a_previously_failed_host_goes_first_in_the_next_deployment(app):
    hosts = [make_instance(f"web-{i}", role="web") for i in (1, 2, 3)]
    group = make_group(app, config=ALL_AT_ONCE)
    first = deploy(group, make_revision(app))
    for host in hosts:
        outcome = "Failed" if host.name == "web-3" else "Succeeded"
        while commands := issued(host):
            command = commands[0]
            fail = outcome == "Failed" and command.lifecycle_event.name == "Install"
            complete(command, host, "Failed" if fail else "Succeeded")
    assert refresh(first).status == "Succeeded"

    states = {s.instance.name: s for s in InstanceGroupState.objects.select_related("instance")}
    assert states["web-1"].last_status == "Succeeded"
    assert states["web-1"].revision == first.revision
    assert states["web-1"].last_deployment_id == first.id
    assert states["web-3"].last_status == "Failed"
    assert states["web-3"].revision is None

    second = deploy(group, make_revision(app))
    assert [t.instance.name for t in second.targets.all()] == ["web-3", "web-1", "web-2"]


def test_creation_is_recorded_as_the_first_event_log_rows(app):
    make_instance("web-1", role="web")
    deployment = deploy(make_group(app), make_revision(app))
    rows = list(DeploymentEvent.objects.filter(deployment=deployment).order_by("seq")[:3])
    assert [(r.seq, r.kind, r.status) for r in rows] == [
        (1, "deployment", "Created"),
        (2, "deployment", "InProgress"),
        (3, "target", "InProgress"),
    ]
    assert rows[0].data["config"] == "CodeDeployDefault.OneAtATime"
