"""Committed query-count baselines: the dashboard and fleet pages cost the same however much data exists."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from factories import (
    install,
    make_app,
    make_deployment,
    make_group,
    make_instance,
    make_member,
    make_project,
    make_revision,
)

from dashboard import tiles
from projects.models import Role

pytestmark = pytest.mark.django_db

# Committed baselines, counted inside the test transaction (so each tile's savepoint pair counts too:
# 8 tiles x 2). Lower them when a change saves queries; raising them needs a reason in review.
DASHBOARD_BASELINE = 29
FLEET_BASELINE = 7
# The group page: +1 for the settings form's deployment configs, +1 for "has the project an AWS connection".
GROUP_BASELINE = 10
# The Groups page: session, user, project, membership, applications, their groups, the groups'
# configs, the fleet's tags, the configs table.
GROUPS_BASELINE = 9
INTEGRATION_TILES = {"repository", "build", "issues"}


def seed(slug: str, groups: int, deployments: int, instances: int = 4):
    project = make_project(slug)
    app = make_app(f"{slug}-app", project=project)
    made = [make_group(app, f"g{n}", role=f"g{n}") for n in range(groups)]
    rev = make_revision(app)
    for n in range(deployments):
        make_deployment(
            made[n % groups], rev, status="Failed" if n % 4 == 0 else "Succeeded", ago=timedelta(days=n % 20)
        )
    for n in range(instances):
        host = make_instance(f"{slug}-h{n}", project=project, online=bool(n % 2), role=f"g{n % groups}")
        install(host, made[n % groups], rev)
    return project


def count_queries(project, path: str) -> int:
    user = make_member(project, f"{project.slug}-owner", Role.OWNER)
    client = Client()
    client.force_login(user)
    client.get(path)  # warm caches (content types, sessions) outside the measurement
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def test_project_dashboard_queries_do_not_grow_with_groups_or_deployments():
    small = count_queries(seed("small", groups=2, deployments=5), "/p/small/")
    large = count_queries(seed("large", groups=10, deployments=100), "/p/large/")
    assert small == large, f"{small} queries for 2 groups/5 deployments, {large} for 10/100"


def test_the_built_in_tiles_stay_within_the_committed_baseline(monkeypatch):
    # Integration providers (repository, build, issues) own their queries; the baseline is ours.
    registry = {
        key: replace(tile, provider=tiles.not_connected("off")) if key in INTEGRATION_TILES else tile
        for key, tile in tiles._registry.items()
    }
    monkeypatch.setattr(tiles, "_registry", registry)
    count = count_queries(seed("large", groups=10, deployments=100), "/p/large/")
    assert count <= DASHBOARD_BASELINE, f"{count} queries; the committed baseline is {DASHBOARD_BASELINE}"


def test_fleet_page_queries_do_not_grow_with_instances():
    small = count_queries(seed("small", groups=2, deployments=2, instances=5), "/p/small/fleet/")
    large = count_queries(seed("large", groups=2, deployments=2, instances=60), "/p/large/fleet/")
    assert small == large, f"{small} queries for 5 instances, {large} for 60"
    assert small <= FLEET_BASELINE, f"{small} queries; the committed baseline is {FLEET_BASELINE}"


def test_group_page_queries_do_not_grow_with_instances_or_deployments():
    small = count_queries(
        seed("small", groups=1, deployments=3, instances=3), "/p/small/groups/small-app/g0/"
    )
    large = count_queries(
        seed("large", groups=1, deployments=40, instances=40), "/p/large/groups/large-app/g0/"
    )
    assert small == large, f"{small} queries vs {large}"
    assert small <= GROUP_BASELINE, f"{small} queries; the committed baseline is {GROUP_BASELINE}"


def test_groups_page_queries_do_not_grow_with_applications_groups_or_instances():
    small = count_queries(seed("small", groups=1, deployments=1, instances=2), "/p/small/groups/")
    large_project = seed("large", groups=12, deployments=1, instances=40)
    for n in range(3):
        make_group(make_app(f"more{n}", project=large_project), "web")
    large = count_queries(large_project, "/p/large/groups/")
    assert small == large, f"{small} queries vs {large}"
    assert small <= GROUPS_BASELINE, f"{small} queries; the committed baseline is {GROUPS_BASELINE}"
