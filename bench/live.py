"""Live log benchmark: from a hook printing a line to that line arriving on an SSE client.

One real agent runs a hook that prints N timestamped lines 50 ms apart; an SSE client follows the
deployment's stream and reports p50/p95 of (arrival - printed). Then it times the deployment list
(1,000 seeded deployments) and a detail page (30 hosts with events and log lines) over HTTP.
Uses DATABASE_URL / REDIS_URL when set, else a throwaway SQLite file and the embedded Redis.
Prints figures; asserts nothing.

    python bench/live.py [--lines 50] [--renders 30]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack_setup import setup_django  # noqa: E402 - bench/ is the script directory

TARGETS = "targets: hook line to SSE client p95 < 1 s; page render p95 < 150 ms"


def _bundle(path: Path, lines: int) -> Path:
    hook = (
        "#!/bin/sh\n"
        f'i=0; while [ $i -lt {lines} ]; do echo "LAT $(date +%s.%N)"; sleep 0.05; i=$((i+1)); done\n'
    ).encode()
    appspec = b"version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: lat.sh\n"
    with tarfile.open(path, "w:gz") as tar:
        for name, data, mode in (("appspec.yml", appspec, 0o644), ("lat.sh", hook, 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return path


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(round(q / 100 * (len(values) - 1)), len(values) - 1)]


def _seed_list(group, revision, n: int) -> None:
    from deployments.models import Deployment

    Deployment.objects.bulk_create(
        Deployment(
            application=group.application,
            deployment_group=group,
            revision=revision,
            deployment_config=group.deployment_config,
            status="Succeeded",
            file_exists_behavior="DISALLOW",
        )
        for _ in range(n)
    )


def _seed_detail(project, app, revision, hosts: int):
    """A deployment over idle hosts (no agents), with five log lines per issued command."""
    from django.db import transaction

    from deployments import engine, eventlog
    from deployments.models import DeploymentConfig, DeploymentGroup, HostCommand, Instance

    group = DeploymentGroup.objects.create(
        application=app,
        name="wide",
        deployment_config=DeploymentConfig.objects.get(name="CodeDeployDefault.AllAtOnce"),
        tag_filters=[{"key": "role", "value": "wide", "type": "KEY_AND_VALUE"}],
    )
    for i in range(hosts):
        instance = Instance(name=f"wide-{i:02d}", project=project, tags={"role": "wide"})
        instance.rotate_credential()
        instance.save()
    deployment = engine.create_deployment(group=group, revision=revision)
    from deployments import tasks

    tasks.advance_deployment.apply(args=[deployment.pk])  # issue the first commands here, not in the worker
    with transaction.atomic():
        for command in HostCommand.objects.filter(deployment=deployment).select_related(
            "lifecycle_event", "instance"
        ):
            eventlog.append(
                deployment.pk,
                [
                    eventlog.entry(
                        "log",
                        instance=command.instance.name,
                        event=command.lifecycle_event.name,
                        message=f"line {i}",
                    )
                    for i in range(5)
                ],
            )
    return deployment


def _log_requests(deployment_id: str) -> int:
    """Requests that carried the hook's lines: the server stores each request's lines in one insert,
    with one created_at (the last lines may ride with the completion, which counts too)."""
    from deployments.models import DeploymentEvent

    rows = DeploymentEvent.objects.filter(deployment_id=deployment_id, kind="log", message__startswith="LAT ")
    return rows.values("created_at").distinct().count()


def _stages(deployment_id: str, arrivals: dict[str, float]) -> None:
    """Where the time goes: printed -> read by the agent (its `ts`) -> stored by the server (the row's
    created_at) -> on the SSE client. Clocks are the same machine's."""
    from django.utils.dateparse import parse_datetime

    from deployments.models import DeploymentEvent

    stages: dict[str, list[float]] = {"agent read": [], "agent -> stored": [], "stored -> client": []}
    for row in DeploymentEvent.objects.filter(
        deployment_id=deployment_id, kind="log", message__startswith="LAT "
    ):
        printed, read = float(row.message[4:]), parse_datetime(row.data.get("ts", "")).timestamp()
        stored = row.created_at.timestamp()
        stages["agent read"].append(read - printed)
        stages["agent -> stored"].append(stored - read)
        if row.message in arrivals:
            stages["stored -> client"].append(arrivals[row.message] - stored)
    print(
        "  stages p50 / p95: "
        + "; ".join(
            f"{name} {percentile(v, 50) * 1000:.0f} / {percentile(v, 95) * 1000:.0f} ms"
            for name, v in stages.items()
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fleetdeck-bench-live-"))
    setup_django(work)
    import requests
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from config.stack import Stack
    from deployments import engine
    from deployments.api.bundles import store_upload
    from deployments.models import Application, DeploymentConfig, DeploymentGroup, RegistrationToken
    from projects.models import Membership, Project

    user = get_user_model().objects.create_user("bench")
    project = Project.objects.create(name="Bench", slug="bench")
    Membership.objects.create(project=project, user=user, role="owner")
    app = Application.objects.create(name="bench", project=project)
    group = DeploymentGroup.objects.create(
        application=app,
        name="one",
        deployment_config=DeploymentConfig.objects.get(name="CodeDeployDefault.AllAtOnce"),
        tag_filters=[{"key": "role", "value": "bench", "type": "KEY_AND_VALUE"}],
    )
    bundle = _bundle(work / "lat.tgz", args.lines)
    revision = store_upload(
        app, SimpleUploadedFile("lat.tgz", bundle.read_bytes()), description="lat", user=user
    )
    _, raw = RegistrationToken.issue(project=project, tags={"role": "bench"})
    client = Client()
    client.force_login(user)
    cookies = {"sessionid": client.cookies["sessionid"].value}

    stack = Stack(env={"FLEETDECK_LOG_LEVEL": "WARNING"}, log_dir=work / "logs").start()
    agent = None
    try:
        env = {**os.environ, "FLEETDECK_AGENT_EC2_METADATA": "0"}
        home = work / "agent"
        subprocess.run(
            [sys.executable, "-m", "fleetdeck_agent", "register", "--server", stack.url, "--token", raw,
             "--name", "bench-1", "--root", str(home / "root"), "--config", str(home / "agent.yml")],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        agent = subprocess.Popen(
            [sys.executable, "-m", "fleetdeck_agent", "run", "--config", str(home / "agent.yml")],
            env=env, stdout=subprocess.DEVNULL, stderr=open(work / "agent.log", "wb"),  # noqa: SIM115
        )  # fmt: skip
        time.sleep(1.0)  # let the agent reach its long poll
        deployment = engine.create_deployment(group=group, revision=revision, user=user)
        url = f"{stack.url}/p/{project.slug}/deployments/{deployment.pk}/stream?after=0"
        latencies: list[float] = []
        arrivals: dict[str, float] = {}
        with requests.get(url, cookies=cookies, stream=True, timeout=(5, 120)) as response:
            kind = None
            for line in response.iter_lines(chunk_size=None, decode_unicode=True):
                now = time.time()
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "log":
                    message = json.loads(line[6:]).get("message", "")
                    if message.startswith("LAT "):
                        latencies.append(now - float(message[4:]))
                        arrivals[message] = now
                elif line.startswith("data: ") and kind == "end":
                    break
        db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        print(f"Fleetdeck live benchmark: 1 agent, {args.lines} lines 50 ms apart, {db}")
        print(TARGETS)
        print(
            f"hook line -> SSE client: n={len(latencies)} p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies, default=float('nan')) * 1000:.0f} ms"
        )
        print(f"log requests for the hook's {args.lines} lines: {_log_requests(deployment.pk)}")
        _stages(deployment.pk, arrivals)

        _seed_list(group, revision, args.seed)
        wide = _seed_detail(project, app, revision, 30)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # planner statistics, as autovacuum keeps them on a live database
        session = requests.Session()
        session.cookies.update(cookies)
        pages = {
            f"list ({args.seed + 1} deployments)": f"{stack.url}/p/{project.slug}/deployments/",
            "list, filtered by status": f"{stack.url}/p/{project.slug}/deployments/?status=Succeeded",
            "detail (30 hosts, events, logs)": f"{stack.url}/p/{project.slug}/deployments/{wide.pk}/",
        }
        print(f"{'page':<36}{'p50 ms':>9}{'p95 ms':>9}")
        for label, page in pages.items():
            session.get(page).raise_for_status()  # warm-up
            times = []
            for _ in range(args.renders):
                started = time.perf_counter()
                session.get(page).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            print(f"{label:<36}{percentile(times, 50):>9.1f}{percentile(times, 95):>9.1f}")
        print("(render times are HTTP round trips to uvicorn, one client, one web worker)")
    finally:
        if agent is not None:
            agent.terminate()
            try:
                agent.wait(timeout=10)
            except subprocess.TimeoutExpired:
                agent.kill()
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
