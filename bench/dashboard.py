"""Dashboard benchmark: render the project dashboard, fleet, group and deployment pages against a big
project.

Seeds 10,000 deployments and 500 instances (and, for the deployment page, one finished deployment
over 50 of them: 7 events per host, 5 log lines per event) into a fresh test database (a throwaway SQLite file
unless DATABASE_URL is set, in which case Django's test database beside it; never the dev
database), then renders each page N times with the Django test client, logged in as an owner.
Prints p50/p95 in ms and queries per render; asserts nothing.

    python bench/dashboard.py [--renders 30] [--deployments 10000] [--instances 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET = "target: p95 < 150 ms per page"


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(round(q / 100 * (len(values) - 1)), len(values) - 1)]


def seed(deployments: int, instances: int, groups: int = 10):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from deployments.models import (
        Application,
        Deployment,
        DeploymentConfig,
        DeploymentGroup,
        Instance,
        InstanceGroupState,
        Revision,
    )
    from deployments.models.fleet import hash_secret
    from projects.models import Membership, Project, Role

    user = get_user_model().objects.create_user("bench", password="bench")
    project = Project.objects.create(name="Bench", slug="bench")
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    config = DeploymentConfig.objects.get(name="CodeDeployDefault.OneAtATime")
    app = Application.objects.create(project=project, name="bench-app")
    group_rows = [
        DeploymentGroup.objects.create(
            application=app,
            name=f"g{n}",
            deployment_config=config,
            tag_filters=[{"key": "role", "value": f"g{n}", "type": "KEY_AND_VALUE"}],
        )
        for n in range(groups)
    ]
    revisions = [
        Revision.objects.create(application=app, bundle_type="tgz", sha256=f"{n:064x}") for n in range(20)
    ]
    now = timezone.now()
    hosts = Instance.objects.bulk_create(
        [
            Instance(
                project=project,
                name=f"host-{n:04d}",
                hostname=f"host-{n:04d}.bench",
                tags={"role": f"g{n % groups}", "az": f"az{n % 3}"},
                online=n % 7 != 0,
                last_seen=now,
                agent_version="0.1.0",
                credential_hash=hash_secret(f"bench-{n}"),
                credential_prefix="fdi_bench",
            )
            for n in range(instances)
        ],
        batch_size=500,
    )
    created = Deployment._meta.get_field("created_at")
    created.auto_now_add = False  # seed history spread over 60 days
    try:
        rows = []
        for n in range(deployments):
            at = now - timedelta(minutes=n * 60 * 24 * 60 // deployments)
            status = ("Succeeded", "Succeeded", "Succeeded", "Failed", "Stopped")[n % 5]
            rows.append(
                Deployment(
                    application=app,
                    deployment_group=group_rows[n % groups],
                    revision=revisions[n % len(revisions)],
                    deployment_config=config,
                    status=status,
                    created_by=user,
                    file_exists_behavior="DISALLOW",
                    created_at=at,
                    started_at=at,
                    ended_at=at + timedelta(seconds=30 + n % 300),
                )
            )
        Deployment.objects.bulk_create(rows, batch_size=1000)
    finally:
        created.auto_now_add = True
    InstanceGroupState.objects.bulk_create(
        [
            InstanceGroupState(
                instance=h, group=group_rows[i % groups], revision=revisions[i % len(revisions)]
            )
            for i, h in enumerate(hosts)
        ],
        batch_size=500,
    )
    return user


def seed_detail(hosts: int = 50, lines: int = 5) -> str:
    """The newest deployment gets targets, events and log lines as a finished in-place rollout leaves
    them, written straight into the tables; returns its id."""
    from datetime import timedelta

    from django.db import transaction

    from deployments import eventlog
    from deployments.models import Deployment, DeploymentTarget, Instance, LifecycleEvent

    deployment = Deployment.objects.order_by("-created_at").first()
    instances = list(Instance.objects.filter(tags__role="g0").order_by("name")[:hosts])
    names = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
             "ApplicationStart", "ValidateService"]  # fmt: skip
    at = deployment.started_at
    with transaction.atomic():
        targets = DeploymentTarget.objects.bulk_create(
            DeploymentTarget(
                deployment=deployment,
                instance=instance,
                position=n,
                batch=n,
                status="Succeeded",
                started_at=at,
                ended_at=at + timedelta(seconds=20),
            )
            for n, instance in enumerate(instances)
        )
        LifecycleEvent.objects.bulk_create(
            LifecycleEvent(
                target=target,
                name=name,
                position=p,
                status="Succeeded",
                error_code="Success",
                started_at=at + timedelta(seconds=p),
                ended_at=at + timedelta(seconds=p + 1),
            )
            for target in targets
            for p, name in enumerate(names)
        )
        eventlog.append(
            deployment.pk,
            [
                eventlog.entry(
                    "log",
                    instance=instance.name,
                    event=name,
                    message=f"{name} line {i}",
                    stream="stdout",
                    script="hook.sh",
                    ts=(at + timedelta(seconds=p, milliseconds=i)).isoformat(),
                )
                for instance in instances
                for p, name in enumerate(names)
                for i in range(lines)
            ],
        )
    return deployment.pk


def measure(client, path: str, renders: int) -> tuple[list[float], list[float], int]:
    from django.db import connection

    response = client.get(path)  # warm up
    assert response.status_code == 200, (path, response.status_code)
    # An execute wrapper, not the debug query log: each request may reconnect (CONN_MAX_AGE=0).
    captured: list[str] = []

    def count(execute, sql, params, many, context):
        captured.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(path)
    times, cpu = [], []
    for _ in range(renders):
        start, start_cpu = time.perf_counter(), time.process_time()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return times, cpu, len(captured)


def report(label: str, times: list[float], cpu: list[float], queries: int) -> None:
    # CPU time (this process, SQLite included) next to wall time: on a shared, loaded machine
    # wall time mostly measures the neighbours.
    print(
        f"{label:22s} wall p50 {statistics.median(times):6.1f} p95 {percentile(times, 95):6.1f} ms | "
        f"cpu p50 {statistics.median(cpu):6.1f} p95 {percentile(cpu, 95):6.1f} ms | {queries} queries, n={len(times)}"
    )


def profile_tiles() -> None:
    """Time each tile's provider on its own, to see where a slow dashboard spends its time."""
    from dashboard import tiles
    from projects.models import Project

    for tile in tiles.registered():
        project = Project.objects.get(slug="bench")
        start = time.perf_counter()
        tiles.render_tile(tile, project)
        print(f"  tile {tile.key:12s} {(time.perf_counter() - start) * 1000:7.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--instances", type=int, default=500)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fleetdeck-bench-dashboard-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{work / 'bench.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    # Always a fresh test database: the dev database is never touched.
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False, serialize=False)
    try:
        started = time.perf_counter()
        user = seed(args.deployments, args.instances)
        detail = seed_detail()
        # A live database has planner statistics (autovacuum keeps them); a freshly seeded one has none,
        # and PostgreSQL then sorts all 10,000 deployments for a top-20 list instead of walking the index.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"seeded {args.deployments} deployments, {args.instances} instances in "
            f"{time.perf_counter() - started:.1f} s ({connection.vendor})"
        )
        client = Client()
        client.force_login(user)
        print(TARGET)
        if os.environ.get("BENCH_PROFILE_TILES"):
            profile_tiles()
        for label, path in [
            ("project dashboard", "/p/bench/"),
            ("fleet page", "/p/bench/fleet/"),
            ("fleet page, filtered", "/p/bench/fleet/?tag=role=g3&state=online"),
            ("group page", "/p/bench/groups/bench-app/g0/"),
            ("deployment list", "/p/bench/deployments/"),
            ("deployment (50 hosts)", f"/p/bench/deployments/{detail}/"),
        ]:
            report(label, *measure(client, path, args.renders))
        # The same page with the integration tiles (repository, build, issues) unplugged, to separate
        # the dashboard's own cost from whatever the integration providers do.
        from dashboard import tiles

        for key in ("repository", "build", "issues"):
            tiles.set_provider(key, tiles.not_connected("bench: unplugged"))
        report("dashboard, no integr.", *measure(client, "/p/bench/", args.renders))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
