"""Fleet-scale benchmark: hundreds of simulated agents in one asyncio process against the real stack.

Each simulated agent speaks the real agent protocol (docs/agent-protocol.md) over real HTTP, on its
own keep-alive connection, to the real server (uvicorn, a Celery worker and beat, Redis, and the
database named by DATABASE_URL). Hooks are instant no-ops (or sleep `--hook-seconds`), so what is measured is the server.

For each fleet size N (agents are added between sizes, so the idle figure is for N agents) it prints:
the CPU the server uses while N agents sit on long polls, the time to complete an AllAtOnce
deployment to N hosts, per-event overhead at p50/p95/p99 (as each agent sees it: from sending one
event's completion to being cleared to run the host's next event), database queries per lifecycle
event, and the CPU seconds and peak RSS of each server process. Prints figures; asserts nothing.

    python bench/fleet.py [N ...]      # default: 100; the issue's figures: 100 500 1000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fd_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        python bench/fleet.py 100 500 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack_setup import bench_owner, setup_django  # noqa: E402

from deploy import _bundle, percentile  # noqa: E402 - bench/ is the script directory

TARGETS = (
    "targets (2 cores): 1,000 idle agents < 10% of one core; 1,000 hosts AllAtOnce < 60 s; "
    "per-event overhead p95 < 250 ms; queries per event constant in N"
)
CLOCK = os.sysconf("SC_CLK_TCK")
POLL_WAIT = 25


# --- a minimal HTTP/1.1 keep-alive client on asyncio streams ---------------------------------


class Connection:
    """One agent's connection. JSON in, JSON out; reconnects once on a dropped keep-alive."""

    def __init__(self, host: str, port: int, credential: str = "") -> None:
        self.host, self.port, self.credential = host, port, credential
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def post(self, path: str, body: dict) -> tuple[int, dict]:
        data = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n"
            + (f"Authorization: Bearer {self.credential}\r\n" if self.credential else "")
            + "\r\n"
        ).encode()
        for attempt in range(2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write(head + data)
                return await self._response()
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, dict]:
        assert self.reader is not None
        status = int((await self.reader.readline()).split()[1])
        length, chunked, close = 0, False, False
        while True:
            line = (await self.reader.readline()).strip()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            body = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, (json.loads(body) if body else {})


# --- the simulated agent -----------------------------------------------------------------------


class Agent:
    """One simulated host. With `start_next` (what fleetdeck-agent does) a completion's answer hands
    back the next event already started; without it (`--ack`, older agents) each event is acked first.

    `gaps` are this host's per-event overhead as the agent sees it: from sending an event's completion
    to being cleared to run the next event (the completion's answer, plus the ack when there is one)."""

    def __init__(
        self, host: str, port: int, credential: str, start_next: bool = True, hook_seconds: float = 0.0
    ) -> None:
        self.conn = Connection(host, port, credential)
        self.start_next = start_next
        self.hook_seconds = hook_seconds
        self.jitter = random.Random(credential)  # reproducible per host
        self.events = 0
        self.errors = 0
        self.gaps: list[float] = []

    async def run(self) -> None:
        commands: list[dict] = []
        completed_at = None  # when the previous event's completion was sent, if the next came with it
        while True:
            try:
                if not commands:
                    completed_at = None
                    _, answer = await self.conn.post(f"/agent/v1/poll/?wait={POLL_WAIT}", {})
                    commands = answer.get("commands") or []
                    continue
                command = commands.pop(0)
                base = f"/agent/v1/commands/{command['id']}"
                if not command.get("started"):
                    status, _ = await self.conn.post(f"{base}/ack/", {"timeout_seconds": 60})
                    if status != 200:
                        continue
                if completed_at is not None:
                    self.gaps.append((time.monotonic() - completed_at) * 1000)
                if self.hook_seconds:
                    await asyncio.sleep(self.hook_seconds * self.jitter.uniform(0.5, 1.5))
                now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
                body = {
                    "status": "Succeeded",
                    "started_at": now,
                    "ended_at": now,
                    "diagnostics": {
                        "error_code": "Success",
                        "script_name": "",
                        "message": "",
                        "log_tail": "",
                    },
                }
                if self.start_next:
                    body["start_next"] = {"timeouts": {"BeforeInstall": 60}}
                completed_at = time.monotonic()
                status, answer = await self.conn.post(f"{base}/complete/", body)
                self.events += 1
                commands = answer.get("commands") or []
            except asyncio.CancelledError:
                raise
            except Exception:
                self.errors += 1
                await self.conn.close()
                await asyncio.sleep(0.5)


async def register(host: str, port: int, token: str, first: int, count: int, step: int) -> list[str]:
    """Register agents first..first+count-1 over the real register call, 20 at a time, tagged with
    the fleet size they were added for."""
    gate = asyncio.Semaphore(20)

    async def one(i: int) -> str:
        async with gate:
            conn = Connection(host, port)
            try:
                status, answer = await conn.post(
                    "/agent/v1/register/",
                    {"token": token, "name": f"sim-{i:05d}", "tags": {"fleet": "sim", "step": str(step)}},
                )
            finally:
                await conn.close()
            if status not in (200, 201):
                raise RuntimeError(f"register sim-{i:05d}: {status} {answer}")
            return answer["credential"]

    return list(await asyncio.gather(*(one(i) for i in range(first, first + count))))


# --- process figures from /proc ------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (a Celery pool's processes)."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK


def peak_rss_mb(pid: int) -> float:
    """The largest peak RSS (VmHWM) among a process and its children."""
    peak = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak / 1024


def postgres_cpu() -> float:
    """CPU seconds of the local PostgreSQL server's processes alive now (0 if it runs elsewhere);
    the difference of two readings is the server's CPU in between, less backends that exited."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            head, _, rest = Path(f"/proc/{entry}/stat").read_text().rpartition(")")
            if head.split("(", 1)[1] == "postgres":
                fields = rest.split()
                total += int(fields[11]) + int(fields[12])
    return total / CLOCK


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


# --- the benchmark -----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[100], help="fleet sizes, e.g. 100 500 1000")
    parser.add_argument(
        "--idle-seconds", type=float, default=30.0, help="how long to measure idle CPU (longer than a poll)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on one deployment after this")
    parser.add_argument(
        "--hook-seconds",
        type=float,
        default=0.0,
        help="each simulated hook takes this long on average (0.5-1.5x, seeded); 0: instant no-ops",
    )
    parser.add_argument(
        "--ack", action="store_true", help="agents ack every event (no start_next), as agents before 0.2 did"
    )
    args = parser.parse_args()
    sizes = sorted(set(args.sizes))

    work = Path(tempfile.mkdtemp(prefix="fleetdeck-fleet-"))
    counts = work / "queries"
    setup_django(work)
    from django.conf import settings

    from config.querycount import total
    from config.stack import Stack

    api_token = bench_owner("fleet")
    stack = Stack(
        env={
            "FLEETDECK_QUERY_COUNT_DIR": str(counts),
            "FLEETDECK_LOG_LEVEL": "WARNING",
            "FLEETDECK_POLL_WAIT": str(POLL_WAIT),
        },
        log_dir=work / "logs",
    ).start(timeout=60)
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Token {api_token}"
    api = stack.url + "/api/v1"
    loop = asyncio.new_event_loop()
    tasks: list[asyncio.Task] = []
    agents: list[Agent] = []
    bench_cpu0 = time.process_time()
    try:
        s.post(f"{api}/applications/", json={"name": "fleet", "project": "fleet"}).raise_for_status()
        raw = s.post(f"{api}/registration-tokens/", json={"tags": {}, "project": "fleet"}).json()["token"]
        with open(_bundle(work / "noop.tgz"), "rb") as fh:
            revision = s.post(f"{api}/applications/fleet/revisions/", files={"bundle": fh}).json()["id"]
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        print(
            f"Fleetdeck fleet benchmark: simulated agents on real HTTP, no-op hooks, {engine}, {os.cpu_count()} cores"
        )
        print(TARGETS)
        if args.hook_seconds:
            print(f"hooks take {args.hook_seconds:g} s on average (0.5-1.5x); overhead excludes them")
        print("stack pids (for py-spy): " + ", ".join(f"{k} {p.pid}" for k, p in stack.processes.items()))
        sys.stdout.flush()
        rows = []
        for n in sizes:
            credentials = loop.run_until_complete(
                register(stack.host, stack.port, raw, len(agents), n - len(agents), n)
            )
            for credential in credentials:
                agent = Agent(
                    stack.host,
                    stack.port,
                    credential,
                    start_next=not args.ack,
                    hook_seconds=args.hook_seconds,
                )
                agents.append(agent)
                tasks.append(loop.create_task(agent.run()))
            # Let every agent reach its long poll and the registrations' follow-up tasks finish (one
            # whole poll round), then measure a quiet window.
            loop.run_until_complete(asyncio.sleep(POLL_WAIT + 3.0 if args.idle_seconds >= POLL_WAIT else 3.0))
            web = stack.processes["web"].pid
            print(
                f"N={n}: {n} agents on long polls, measuring idle CPU for {args.idle_seconds:.0f} s",
                flush=True,
            )
            before = cpu_seconds(web)
            q0 = total(counts) if counts.exists() else 0
            loop.run_until_complete(asyncio.sleep(args.idle_seconds))
            idle_pct = 100 * (cpu_seconds(web) - before) / args.idle_seconds
            idle_qps = ((total(counts) if counts.exists() else 0) - q0) / args.idle_seconds
            idle_load = load()

            # The group holds the hosts added for this size and every smaller one: exactly n hosts.
            steps = [{"key": "step", "value": str(m), "type": "KEY_AND_VALUE"} for m in sizes if m <= n]
            group = f"all-{n}"
            s.post(
                f"{api}/applications/fleet/deployment-groups/",
                json={
                    "name": group,
                    "deployment_config": "CodeDeployDefault.AllAtOnce",
                    "tag_filters": steps,
                },
            ).raise_for_status()
            procs = {name: p.pid for name, p in stack.processes.items()}
            cpu0 = {name: cpu_seconds(pid) for name, pid in procs.items()}
            q0 = total(counts) if counts.exists() else 0
            sim0 = time.process_time()
            pg0 = postgres_cpu()
            seen_gaps = [len(a.gaps) for a in agents]
            dep = s.post(
                f"{api}/deployments/",
                json={"application": "fleet", "deployment_group": group, "revision": revision},
            ).json()["id"]
            from deployments.models import Deployment, HostCommand

            deadline = time.monotonic() + args.timeout
            status = ""
            while time.monotonic() < deadline:
                loop.run_until_complete(asyncio.sleep(0.5))
                status = Deployment.objects.values_list("status", flat=True).get(pk=dep)
                if status in ("Succeeded", "Failed", "Stopped"):
                    break
            run_load = load()
            loop.run_until_complete(asyncio.sleep(1.1))  # let the query counters flush
            cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in procs.items()}
            rss = {name: peak_rss_mb(pid) for name, pid in procs.items()}
            queries = total(counts) - q0
            sim_cpu = time.process_time() - sim0
            pg_cpu = postgres_cpu() - pg0
            row = Deployment.objects.get(pk=dep)
            wall = ((row.ended_at or row.updated_at) - row.created_at).total_seconds()
            events = HostCommand.objects.filter(deployment_id=dep).count()
            gaps = [gap for a, first in zip(agents, seen_gaps, strict=False) for gap in a.gaps[first:]]
            rows.append(
                {
                    "n": n,
                    "status": status,
                    "wall": wall,
                    "events": events,
                    "p50": percentile(gaps, 50),
                    "p95": percentile(gaps, 95),
                    "p99": percentile(gaps, 99),
                    "qpe": queries / max(events, 1),
                    "idle_pct": idle_pct,
                    "idle_qps": idle_qps,
                    "idle_load": idle_load,
                    "run_load": run_load,
                    "cpu": cpu,
                    "rss": rss,
                    "sim_cpu": sim_cpu,
                    "pg_cpu": pg_cpu,
                }
            )
            _print_row(rows[-1])
        print()
        print("Summary")
        print(
            f"{'N':>6}{'wall s':>9}{'events':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'q/event':>9}"
            f"{'idle %core':>11}{'idle q/s':>9}  status"
        )
        for r in rows:
            print(
                f"{r['n']:>6}{r['wall']:>9.2f}{r['events']:>8}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}"
                f"{r['qpe']:>9.1f}{r['idle_pct']:>11.1f}{r['idle_qps']:>9.1f}  {r['status']}"
            )
        errors = sum(a.errors for a in agents)
        print(
            f"(queries count every SQL statement of web and worker, polls included; simulated-agent errors: "
            f"{errors}; bench process CPU {time.process_time() - bench_cpu0:.1f} s)"
        )
    finally:
        for task in tasks:
            task.cancel()

        async def close_all() -> None:
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(a.conn.close() for a in agents), return_exceptions=True)

        loop.run_until_complete(close_all())
        loop.close()
        stack.stop()
    return 0


def _print_row(r: dict) -> None:
    procs = ", ".join(f"{name} {r['cpu'][name]:.1f} s / {r['rss'][name]:.0f} MB" for name in r["cpu"])
    print(
        f"N={r['n']}: AllAtOnce {r['status']} in {r['wall']:.2f} s (load {r['run_load']}), {r['events']} events, "
        f"overhead p50/p95/p99 {r['p50']:.1f}/{r['p95']:.1f}/{r['p99']:.1f} ms, {r['qpe']:.1f} queries/event; "
        f"idle: web {r['idle_pct']:.1f}% of a core, {r['idle_qps']:.1f} queries/s (load {r['idle_load']}); "
        f"server CPU / peak RSS: {procs}; PostgreSQL {r['pg_cpu']:.1f} s CPU; simulated agents {r['sim_cpu']:.1f} s CPU"
    )
    print(_budget_line(r))
    sys.stdout.flush()


def _budget_line(r: dict) -> str:
    """The closed loop's arithmetic: with instant hooks each host waits about N / throughput per event,
    so the p95 target sets a throughput, and the cores set the CPU each event may cost to reach it."""
    events = max(r["events"], 1)
    per_event = {name: 1000 * seconds / events for name, seconds in r["cpu"].items() if seconds >= 0.05}
    per_event.update(postgres=1000 * r["pg_cpu"] / events, agents=1000 * r["sim_cpu"] / events)
    throughput = events / r["wall"] if r["wall"] else float("nan")
    wanted = r["n"] / 0.25  # events/s for a 250 ms wait per event
    cores = os.cpu_count() or 1
    return (
        "  per event: "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_event.items())
        + f" = {sum(per_event.values()):.2f} ms of CPU; {throughput:.0f} events/s, so {r['n']} hosts with "
        f"instant hooks wait ~{1000 * r['n'] / throughput:.0f} ms per event; 250 ms needs {wanted:.0f} events/s, "
        f"{1000 * cores / wanted:.2f} ms of CPU per event on {cores} cores"
    )


if __name__ == "__main__":
    raise SystemExit(main())
