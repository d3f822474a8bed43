"""Deployment benchmark: 20 real agents with no-op hooks, AllAtOnce and OneAtATime.

Prints total wall time, per-event overhead (the end of one event's hook to the start of the same
host's next one, both as the agent reports them, so the server's round trip is included) at p50/p95,
and server queries per lifecycle event. Uses DATABASE_URL / REDIS_URL when set, else a throwaway
SQLite file and the embedded Redis. Prints figures; asserts nothing.

    python bench/deploy.py [--hosts 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack_setup import bench_owner, setup_django  # noqa: E402 - bench/ is the script directory

TARGETS = "targets: 20 hosts AllAtOnce < 3 s; per-event overhead p50 < 25 ms, p95 < 100 ms"


def _bundle(path: Path) -> Path:
    hook = b"#!/bin/sh\nexit 0\n"
    appspec = "version: 0.0\nos: linux\nhooks:\n" + "".join(
        f"  {e}:\n    - location: noop.sh\n"
        for e in ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")
    )
    import io

    with tarfile.open(path, "w:gz") as tar:
        for name, data, mode in (("appspec.yml", appspec.encode(), 0o644), ("noop.sh", hook, 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return path


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(round(q / 100 * (len(values) - 1)), len(values) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="deployments per config; the first warms up")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fleetdeck-bench-"))
    counts = work / "queries"
    setup_django(work)
    from django.conf import settings

    from config.querycount import total
    from config.stack import Stack
    from deployments.models import HostCommand

    token = bench_owner("bench")
    stack = Stack(
        env={"FLEETDECK_QUERY_COUNT_DIR": str(counts), "FLEETDECK_LOG_LEVEL": "WARNING"},
        log_dir=work / "logs",
    ).start()
    agents: list[subprocess.Popen] = []
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    api = stack.url + "/api/v1"
    try:
        s.post(f"{api}/applications/", json={"name": "bench", "project": "bench"}).raise_for_status()
        raw = s.post(
            f"{api}/registration-tokens/", json={"tags": {"role": "bench"}, "project": "bench"}
        ).json()["token"]
        env = {**os.environ, "FLEETDECK_AGENT_EC2_METADATA": "0"}
        for i in range(args.hosts):
            home = work / "agents" / f"h{i:03d}"
            home.mkdir(parents=True)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "fleetdeck_agent",
                    "register",
                    "--server",
                    stack.url,
                    "--token",
                    raw,
                    "--name",
                    f"bench-{i:03d}",
                    "--root",
                    str(home / "root"),
                    "--config",
                    str(home / "agent.yml"),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
            agents.append(
                subprocess.Popen(
                    [sys.executable, "-m", "fleetdeck_agent", "run", "--config", str(home / "agent.yml")],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=open(home / "agent.log", "wb"),  # noqa: SIM115
                )
            )
        revision = None
        with open(_bundle(work / "noop.tgz"), "rb") as fh:
            revision = s.post(f"{api}/applications/bench/revisions/", files={"bundle": fh}).json()["id"]
        time.sleep(1.0)  # let every agent reach its long poll
        print(
            f"Fleetdeck deploy benchmark: {args.hosts} agents, no-op hooks, {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
        )
        print(TARGETS)
        print(f"{'config':<32}{'wall s':>8}{'events':>8}{'p50 ms':>9}{'p95 ms':>9}{'queries/event':>15}")
        for config in ("CodeDeployDefault.AllAtOnce", "CodeDeployDefault.OneAtATime"):
            group = config.rsplit(".", 1)[-1].lower()
            s.post(
                f"{api}/applications/bench/deployment-groups/",
                json={
                    "name": group,
                    "deployment_config": config,
                    "tag_filters": [{"key": "role", "value": "bench", "type": "KEY_AND_VALUE"}],
                },
            ).raise_for_status()
            for round_no in range(args.rounds):
                time.sleep(0.6)
                before = total(counts) if counts.exists() else 0
                dep = s.post(
                    f"{api}/deployments/",
                    json={"application": "bench", "deployment_group": group, "revision": revision},
                ).json()["id"]
                while True:
                    status = s.get(f"{api}/deployments/{dep}/").json()["status"]
                    if status in ("Succeeded", "Failed", "Stopped"):
                        break
                    time.sleep(0.25)  # light polling: the benchmark must not be the server's main load
                from deployments.models import Deployment

                row = Deployment.objects.get(pk=dep)
                # Server-side wall time: creation to the final status, not the client's polling cadence.
                wall = (row.ended_at - row.created_at).total_seconds()
                time.sleep(1.1)  # let the query counters flush
                queries = total(counts) - before
                commands = list(
                    HostCommand.objects.filter(deployment_id=dep)
                    .select_related("lifecycle_event__target")
                    .order_by("lifecycle_event__target_id", "lifecycle_event__position")
                )
                gaps = []
                for prev, nxt in itertools.pairwise(commands):
                    # Host side, on the host's clock: one hook's end to the next hook's start.
                    before, after = prev.lifecycle_event, nxt.lifecycle_event
                    if before.target_id == after.target_id and before.ended_at and after.started_at:
                        gaps.append((after.started_at - before.ended_at).total_seconds() * 1000)
                label = (
                    f"{config.rsplit('.', 1)[-1]}{' (warm-up)' if round_no == 0 and args.rounds > 1 else ''}"
                )
                print(
                    f"{label:<32}{wall:>8.2f}{len(commands):>8}{percentile(gaps, 50):>9.1f}"
                    f"{percentile(gaps, 95):>9.1f}{queries / max(len(commands), 1):>15.1f}   {status}"
                )
        print(
            "(queries/event counts every SQL statement of the web server and worker, polls and API reads included)"
        )
        print(f"median of all gaps: {statistics.median(gaps) if gaps else float('nan'):.1f} ms")
    finally:
        for proc in agents:
            proc.terminate()
        for proc in agents:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
