"""Storage benchmark (PostgreSQL): what the database keeps per lifecycle event and per log line, the size
of one 1,000-host deployment's event log, how long the retention cleanup takes for 10,000 finished
deployments, and what a cleanup running at the same time does to a rollout.

Rollouts are real: the stack (uvicorn, a Celery worker and beat) and simulated agents speaking the real
protocol over HTTP (bench/fleet.py's connection), each sending `--lines` log lines of ~80 characters
with every lifecycle event's completion. The 10,000-deployment history is written straight into the
tables with INSERT … SELECT (what the engine would have written, in the same shape), then cleaned up by
deployments/retention.py, in this process and as `manage.py cleanup` beside a live rollout.
Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fd_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        python bench/storage.py [--hosts 1000] [--lines 20] [--deployments 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleet import POLL_WAIT, Connection, load, register  # noqa: E402
from stack_setup import bench_owner, setup_django  # noqa: E402 - bench/ is the script directory

from deploy import _bundle, percentile  # noqa: E402

EVENTS = (
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
)
TABLES = ("deployment", "deploymenttarget", "lifecycleevent", "hostcommand", "deploymentevent")


class LoggingAgent:
    """A simulated host that sends `lines` log lines with each event's completion (start_next, as
    fleetdeck-agent 0.2 does). `gaps`: from sending a completion to holding the next event."""

    def __init__(self, host: str, port: int, credential: str) -> None:
        self.conn = Connection(host, port, credential)
        self.lines = 0
        self.gaps: list[float] = []
        self.errors = 0

    def _body(self, event: str) -> dict:
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        lines = [
            {
                "seq": i,
                "ts": now,
                "stream": "stdout",
                "script": "scripts/hook.sh",
                "text": f"{now} {event}: step {i:03d} done; {'output of the hook, as one line ' * 2}"[:80],
            }
            for i in range(1, self.lines + 1)
        ]
        return {
            "status": "Succeeded",
            "started_at": now,
            "ended_at": now,
            "diagnostics": {"error_code": "Success", "script_name": "", "message": "", "log_tail": ""},
            "lines": lines,
            "start_next": {"timeouts": {}},
        }

    async def run(self) -> None:
        commands: list[dict] = []
        sent = None
        while True:
            try:
                if not commands:
                    sent = None
                    _, answer = await self.conn.post(f"/agent/v1/poll/?wait={POLL_WAIT}", {})
                    commands = answer.get("commands") or []
                    continue
                command = commands.pop(0)
                base = f"/agent/v1/commands/{command['id']}"
                if not command.get("started"):
                    status, _ = await self.conn.post(f"{base}/ack/", {"timeout_seconds": 60})
                    if status != 200:
                        continue
                if sent is not None:
                    self.gaps.append((time.monotonic() - sent) * 1000)
                sent = time.monotonic()
                _, answer = await self.conn.post(f"{base}/complete/", self._body(command["lifecycle_event"]))
                commands = answer.get("commands") or []
            except asyncio.CancelledError:
                raise
            except Exception:
                self.errors += 1
                await self.conn.close()
                await asyncio.sleep(0.5)


def table_sizes() -> dict[str, int]:
    """On-disk bytes (heap, indexes, TOAST) of the tables a deployment writes."""
    from django.db import connection

    with connection.cursor() as cursor:
        out = {}
        for name in TABLES:
            cursor.execute("SELECT pg_total_relation_size(%s)", [f"deployments_{name}"])
            out[name] = cursor.fetchone()[0]
        return out


def row_bytes(sql_where: str, table: str, params: list) -> tuple[int, int]:
    """Rows and the sum of their own sizes (pg_column_size: the row's data, no index or page overhead)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM deployments_{table} t WHERE {sql_where}",  # noqa: S608
            params,
        )
        n, size = cursor.fetchone()
        return n, int(size)


def mib(n: float) -> str:
    return f"{n / 1024**2:.1f} MiB"


# --- the history: 10,000 finished deployments, written straight into the tables ---------------


def insert_select(model, given: dict[str, str | tuple[str, list]], tail: str, params: list) -> int:
    """INSERT INTO model's table SELECT … `tail`: `given` maps columns to SQL expressions (with their
    parameters); every other column gets the field's default, so columns added later need no change."""
    from django.db import connection
    from django.db.models import AutoField, BigAutoField

    columns, values, selected = [], [], []
    for f in model._meta.concrete_fields:
        if f.column in given:
            expression, args = (
                given[f.column] if isinstance(given[f.column], tuple) else (given[f.column], [])
            )
            columns.append(f.column)
            values.append(expression)
            selected += args
        elif not isinstance(f, AutoField | BigAutoField):
            columns.append(f.column)
            values.append("%s")
            selected.append(f.get_db_prep_save(f.get_default(), connection))
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} {tail}"
    with connection.cursor() as cursor:
        cursor.execute(sql, selected + params)
        return cursor.rowcount


def seed_history(prefix: str, count: int, hosts: list[int], lines: int, model_deployment: str) -> int:
    """`count` deployments that ended 200+ days ago, each on `hosts` with 7 events and `lines` log
    lines per event; states, payloads and log rows shaped like those of `model_deployment`."""
    from psycopg.types.json import Jsonb

    from deployments.models import (
        Deployment,
        DeploymentEvent,
        DeploymentTarget,
        HostCommand,
        LifecycleEvent,
    )

    model = Deployment.objects.get(pk=model_deployment)
    payload = HostCommand.objects.filter(deployment=model).values_list("payload", flat=True).first()
    h, e = len(hosts), len(EVENTS)
    per_deployment = 3 + 2 * h + 2 * e * h + lines * e * h
    ids = f"'{prefix}-' || lpad(g::text, 9, '0')"
    insert_select(
        Deployment,
        {
            "id": ids,
            "application_id": ("%s", [model.application_id]),
            "deployment_group_id": ("%s", [model.deployment_group_id]),
            "revision_id": ("%s", [model.revision_id]),
            "deployment_config_id": ("%s", [model.deployment_config_id]),
            "status": "CASE WHEN mod(g, 5) = 0 THEN 'Failed' ELSE 'Succeeded' END",
            "file_exists_behavior": "'DISALLOW'",
            "event_seq": str(per_deployment),
            "created_at": "now() - interval '200 days' - g * interval '10 minutes'",
            "started_at": "now() - interval '200 days' - g * interval '10 minutes'",
            "ended_at": "now() - interval '200 days' - g * interval '10 minutes' + interval '1 minute'",
        },
        "FROM generate_series(1, %s) g",
        [count],
    )
    mine = f"LIKE '{prefix}-%%'"
    insert_select(
        DeploymentTarget,
        {
            "deployment_id": ids,
            "instance_id": ("(%s::bigint[])[h + 1]", [hosts]),
            "position": "h",
            "batch": "0",
            "status": "'Succeeded'",
            "started_at": "now() - interval '200 days'",
            "ended_at": "now() - interval '200 days'",
        },
        "FROM generate_series(1, %s) g CROSS JOIN generate_series(0, %s) h",
        [count, h - 1],
    )
    insert_select(
        LifecycleEvent,
        {
            "target_id": "t.id",
            "name": "ev.name",
            "position": "ev.pos - 1",
            "executor": "'agent'",
            "status": "'Succeeded'",
            "started_at": "t.started_at",
            "ended_at": "t.ended_at",
            "error_code": "'Success'",
        },
        f"FROM deployments_deploymenttarget t CROSS JOIN unnest(%s::text[]) WITH ORDINALITY AS ev(name, pos) "
        f"WHERE t.deployment_id {mine}",
        [list(EVENTS)],
    )
    insert_select(
        HostCommand,
        {
            "id": "gen_random_uuid()",
            "instance_id": "t.instance_id",
            "deployment_id": "t.deployment_id",
            "lifecycle_event_id": "le.id",
            "status": "'Completed'",
            "payload": ("%s", [Jsonb(payload)]),
            "timeout_seconds": "3600",
            "log_seq": str(lines),
            "issued_at": "t.started_at",
            "acked_at": "t.started_at",
            "completed_at": "t.ended_at",
        },
        f"FROM deployments_lifecycleevent le JOIN deployments_deploymenttarget t ON t.id = le.target_id "
        f"WHERE t.deployment_id {mine}",
        [],
    )
    # Per deployment: 3 deployment rows, then per host 2 target rows and 2 per event, then the log lines.
    state = 3 + 2 * h + 2 * e * h
    kinds = (
        f"CASE WHEN k <= 3 THEN 'deployment' WHEN k <= {3 + 2 * h} THEN 'target' "
        f"WHEN k <= {state} THEN 'event' ELSE 'log' END"
    )
    host_of = f"CASE WHEN k <= 3 THEN '' WHEN k <= {3 + 2 * h} THEN 'sim-' || lpad(((k - 4) / 2)::text, 5, '0') WHEN k <= {state} THEN 'sim-' || lpad(((k - {3 + 2 * h} - 1) / {2 * e})::text, 5, '0') ELSE 'sim-' || lpad(((k - {state} - 1) / {lines * e})::text, 5, '0') END"
    event_of = f"CASE WHEN k <= {3 + 2 * h} THEN '' WHEN k <= {state} THEN (%s::text[])[mod((k - {3 + 2 * h} - 1) / 2, {e}) + 1] ELSE (%s::text[])[mod((k - {state} - 1) / {lines}, {e}) + 1] END"
    text = "to_char(now(), 'YYYY-MM-DD\"T\"HH24:MI:SS') || ' step ' || lpad(k::text, 3, '0') || ' done; ' || repeat('output of the hook ', 3)"
    insert_select(
        DeploymentEvent,
        {
            "deployment_id": ids,
            "seq": "k",
            "kind": kinds,
            "instance": host_of,
            "event": (event_of, [list(EVENTS), list(EVENTS)]),
            "status": f"CASE WHEN k <= {state} THEN (CASE WHEN mod(k, 2) = 0 THEN 'InProgress' ELSE 'Succeeded' END) ELSE '' END",
            "message": f"CASE WHEN k <= {state} THEN '' ELSE left({text}, 80) END",
            "data": f"CASE WHEN k <= {state} THEN '{{}}'::jsonb ELSE jsonb_build_object('stream', 'stdout', 'script', 'scripts/hook.sh', 'ts', to_char(now(), 'YYYY-MM-DD\"T\"HH24:MI:SS+00:00')) END",
            "created_at": "now() - interval '200 days'",
        },
        "FROM generate_series(1, %s) g CROSS JOIN generate_series(1, %s) k",
        [count, per_deployment],
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return per_deployment


# --- the benchmark -----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=1000, help="hosts in the measured rollouts")
    parser.add_argument("--lines", type=int, default=20, help="log lines per lifecycle event")
    parser.add_argument("--deployments", type=int, default=10_000, help="finished deployments to clean up")
    parser.add_argument("--history-hosts", type=int, default=5, help="hosts per deployment of the history")
    parser.add_argument("--history-lines", type=int, default=2, help="log lines per event of the history")
    parser.add_argument("--parts", default="123", help="which parts to run, e.g. 3 (default: 123)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fleetdeck-storage-"))
    setup_django(work)
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        print("bench/storage.py measures PostgreSQL's sizes: set DATABASE_URL=postgres://… (skipped)")
        return 0
    from config.stack import Stack

    api_token = bench_owner("storage")
    stack = Stack(env={"FLEETDECK_LOG_LEVEL": "WARNING"}, log_dir=work / "logs").start(timeout=60)
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Token {api_token}"
    api = stack.url + "/api/v1"
    loop = asyncio.new_event_loop()
    agents: list[LoggingAgent] = []
    tasks: list[asyncio.Task] = []
    try:
        print(f"Fleetdeck storage benchmark: PostgreSQL, {os.cpu_count()} cores, load {load()}")
        s.post(f"{api}/applications/", json={"name": "storage", "project": "storage"}).raise_for_status()
        raw = s.post(f"{api}/registration-tokens/", json={"tags": {}, "project": "storage"}).json()["token"]
        with open(_bundle(work / "noop.tgz"), "rb") as fh:
            revision = s.post(f"{api}/applications/storage/revisions/", files={"bundle": fh}).json()["id"]
        for credential in loop.run_until_complete(register(stack.host, stack.port, raw, 0, args.hosts, 1)):
            agents.append(LoggingAgent(stack.host, stack.port, credential))
            tasks.append(loop.create_task(agents[-1].run()))
        loop.run_until_complete(asyncio.sleep(3))
        s.post(
            f"{api}/applications/storage/deployment-groups/",
            json={
                "name": "all",
                "deployment_config": "CodeDeployDefault.AllAtOnce",
                "tag_filters": [{"key": "fleet", "value": "sim", "type": "KEY_AND_VALUE"}],
            },
        ).raise_for_status()

        def settle() -> None:
            # The agents only run while the loop does: after this process's own work (seeding, an
            # in-process cleanup) their polls went stale, so let every one get back onto a long poll.
            loop.run_until_complete(asyncio.sleep(POLL_WAIT + 5))

        def rollout(lines: int) -> dict:
            from deployments.models import Deployment

            for agent in agents:
                agent.lines, agent.errors = lines, 0
            seen = [len(a.gaps) for a in agents]
            dep = s.post(
                f"{api}/deployments/",
                json={"application": "storage", "deployment_group": "all", "revision": revision},
            ).json()["id"]
            while True:
                loop.run_until_complete(asyncio.sleep(0.5))
                row = Deployment.objects.get(pk=dep)
                if row.is_terminal:
                    break
            gaps = [g for a, first in zip(agents, seen, strict=True) for g in a.gaps[first:]]
            errors = sum(a.errors for a in agents)
            wall = (row.ended_at - row.created_at).total_seconds()
            return {
                "id": dep,
                "status": row.status,
                "wall": wall,
                "p50": percentile(gaps, 50),
                "p95": percentile(gaps, 95),
                "errors": errors,
            }

        # 1. Bytes per lifecycle event and per log line: one rollout without output, one with.
        sizes0 = table_sizes()
        quiet = rollout(0)
        events = args.hosts * len(EVENTS)
        if "1" in args.parts:
            sizes1 = table_sizes()
            loud = rollout(args.lines)
            sizes2 = table_sizes()
            lines = events * args.lines
            grown_quiet = sum(sizes1.values()) - sum(sizes0.values())
            grown_loud = sum(sizes2.values()) - sum(sizes1.values())
            state_rows = [
                row_bytes(f"{w} = %s", t, [quiet["id"]])
                for t, w in (
                    ("deployment", "id"),
                    ("deploymenttarget", "deployment_id"),
                    ("hostcommand", "deployment_id"),
                    ("deploymentevent", "deployment_id"),
                )
            ]
            state_rows.append(
                row_bytes(
                    "target_id IN (SELECT id FROM deployments_deploymenttarget WHERE deployment_id = %s)",
                    "lifecycleevent",
                    [quiet["id"]],
                )
            )
            log_n, log_size = row_bytes(
                "deployment_id = %s AND kind = 'log'", "deploymentevent", [loud["id"]]
            )
            all_n, all_size = row_bytes("deployment_id = %s", "deploymentevent", [loud["id"]])
            print(f"\n1. {args.hosts} hosts AllAtOnce, {len(EVENTS)} events each ({events} lifecycle events)")
            print(
                f"   rollouts: without output {quiet['wall']:.1f} s ({quiet['status']}), with {args.lines} lines per event "
                f"{loud['wall']:.1f} s ({loud['status']})"
            )
            print(
                f"   per lifecycle event: {sum(b for _, b in state_rows) / events:.0f} bytes of row data "
                f"(its event, command, state-change rows and share of the target), {grown_quiet / events:.0f} bytes "
                "on disk with indexes and the row versions its updates leave until vacuum"
            )
            print(
                f"   per log line (~80 characters): {log_size / max(log_n, 1):.0f} bytes of row data, "
                f"{(grown_loud - grown_quiet) / max(lines, 1):.0f} bytes on disk with indexes"
            )
            print(
                f"   one {args.hosts}-host deployment's event log: {all_n} rows ({log_n} log lines), "
                f"{mib(all_size)} of row data; on disk the deploymentevent table grew "
                f"{mib(sizes2['deploymentevent'] - sizes1['deploymentevent'])} (without output: "
                f"{mib(sizes1['deploymentevent'] - sizes0['deploymentevent'])})"
            )

        # 2. The cleanup of 10,000 finished deployments, log expiry first, then whole deployments.
        from deployments import retention
        from deployments.models import Deployment, DeploymentEvent, Instance, LifecycleEvent
        from projects.models import Project

        host_ids = list(Instance.objects.order_by("name").values_list("pk", flat=True)[: args.history_hosts])
        if "2" in args.parts:
            started = time.monotonic()
            per = seed_history("h", args.deployments, host_ids, args.history_lines, quiet["id"])
            print(
                f"\n2. history: {args.deployments} deployments that ended 200+ days ago, {args.history_hosts} hosts x "
                f"{len(EVENTS)} events, {args.history_lines} lines per event ({per} event-log rows each), written in "
                f"{time.monotonic() - started:.0f} s; tables now {mib(sum(table_sizes().values()))}"
            )
            started = time.monotonic()
            storage_figures = retention.project_storage(Project.objects.get(slug="storage").pk)
            print(
                f"   Settings page storage figures: {storage_figures['log_rows']} log rows counted in "
                f"{(time.monotonic() - started) * 1000:.0f} ms"
            )
            settings.LOG_RETENTION_DAYS, settings.DEPLOYMENT_RETENTION_DAYS = 90, None
            report = retention.cleanup()
            print(
                f"   log expiry: {report.expired_logs} deployments, {report.log_lines} lines, "
                f"{mib(report.log_bytes)} in {report.seconds:.1f} s"
            )
            settings.DEPLOYMENT_RETENTION_DAYS = 30
            report = retention.cleanup()
            print(
                f"   whole deployments: {report.deployments} deleted ({report.deployment_rows} rows, "
                f"{mib(report.deployment_bytes)} of event log) in {report.seconds:.1f} s"
            )

        # 3. A rollout alone, then the same rollout while `manage.py cleanup` removes another history.
        if "3" not in args.parts:
            return 0
        seed_history("j", args.deployments, host_ids, args.history_lines, quiet["id"])
        settle()
        alone = rollout(args.lines)
        env = {
            **os.environ,
            **stack.env,
            "FLEETDECK_LOG_RETENTION_DAYS": "90",
            "FLEETDECK_DEPLOYMENT_RETENTION_DAYS": "30",
        }
        settle()
        cleaning_started = time.monotonic()
        cleaner = subprocess.Popen(
            [sys.executable, "manage.py", "cleanup"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        beside = rollout(args.lines)
        rollout_ended = time.monotonic()
        out, _ = cleaner.communicate(timeout=1800)
        cleaning = time.monotonic() - cleaning_started
        row = Deployment.objects.get(pk=beside["id"])
        seqs = DeploymentEvent.objects.filter(deployment=row).count()
        ok_events = LifecycleEvent.objects.filter(target__deployment=row, status="Succeeded").count()
        log_rows = DeploymentEvent.objects.filter(deployment=row, kind="log").count()
        print(
            f"\n3. a {args.hosts}-host rollout, {args.lines} lines per event, alone and beside a cleanup of "
            f"{args.deployments} deployments (load {load()})"
        )
        print(
            f"   alone:          {alone['wall']:.1f} s, per-event overhead p50 {alone['p50']:.0f} / p95 {alone['p95']:.0f} ms ({alone['status']}, agent errors {alone['errors']})"
        )
        print(
            f"   beside cleanup: {beside['wall']:.1f} s, per-event overhead p50 {beside['p50']:.0f} / p95 {beside['p95']:.0f} ms ({beside['status']}, agent errors {beside['errors']})"
        )
        print(
            f"   the cleanup took {cleaning:.1f} s (exit {cleaner.returncode}); the rollout ran "
            f"{min(rollout_ended - cleaning_started, cleaning):.1f} s of it"
        )
        print(
            f"   the rollout's record: {ok_events}/{events} events Succeeded, {log_rows}/{events * args.lines} "
            f"log lines, event log {seqs} rows for sequence numbers 1..{row.event_seq}"
        )
        print(
            "   cleanup said: " + " | ".join(line for line in out.splitlines() if line.startswith("Deleted"))
        )
    finally:
        for task in tasks:
            task.cancel()

        async def close_all() -> None:
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(a.conn.close() for a in agents), return_exceptions=True)

        with contextlib.suppress(Exception):
            loop.run_until_complete(close_all())
        loop.close()
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
