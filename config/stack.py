"""Run the whole server side as child processes: uvicorn, two Celery workers (`worker` for the rollouts,
`waits` for the server-side waits on their own queue; see config/worker.py) and beat.

`python -m config.stack` starts them on the embedded defaults (starting the embedded Redis first when
REDIS_URL is unset) and stays in the foreground until Ctrl-C, which stops every child it started and
then that Redis. A worker (either) or beat that dies is started again, as systemd's `Restart=on-failure` does
for their units (kombu's Redis transport can take a worker down when Redis goes away). With `--demo` (what `make demo` calls) it first runs
the setup steps of `config.demo.Demo`: migrate, seed the demo project, start four local
agents as children too and deploy the sample app. The end-to-end tests use the same `Stack`
class, so what the tests run is what users run.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import django
from django.conf import settings

from config import embedded_redis
from config.processes import die_with_parent
from core.env import ConfigError, env_int, env_str
from dashboard.demo import DemoError

BASE_DIR = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)

# Started again when they exit with a failure, like their systemd units (deploy/systemd/); a process
# that fails RESTART_LIMIT times within RESTART_WINDOW seconds stays down (systemd's StartLimitBurst).
RESTART_ON_FAILURE = ("worker", "waits", "beat")
RESTART_LIMIT = 5
RESTART_WINDOW = 60.0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    log_dir: Path = BASE_DIR / "var" / "logs"
    worker_concurrency: int = 2
    web_workers: int = 1
    beat: bool = True
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    restarts: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _supervisor: threading.Thread | None = field(default=None, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        env["PYTHONUNBUFFERED"] = "1"
        chosen = ("FLEETDECK_ALLOWED_HOSTS", "FLEETDECK_PUBLIC_URL")
        if _is_loopback(self.host) and not any(env.get(n) or env.get(f"{n}_FILE") for n in chosen):
            # Listening on loopback, the server is reached by loopback names only; answering to any
            # Host would only let a request choose the host of links (and makes the server warn).
            names = dict.fromkeys(["localhost", "127.0.0.1", "[::1]", self.host])
            env["FLEETDECK_ALLOWED_HOSTS"] = ",".join(names)
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        output = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        with self._lock:
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=BASE_DIR,
                env={**self._env(), **(env or {})},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def start_web(self) -> None:
        self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--workers",
                str(self.web_workers),
                "--no-access-log",
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "3",
                "--timeout-keep-alive",
                "30",
            ],
        )

    def start_worker(self, name: str = "worker", kind: str = "main") -> None:
        """A Celery worker (`python -m config.worker`): "main" for rollouts and integrations, "waits"
        for the server-side waits (traffic shifts, health checks, provisioning) on their own queue."""
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "config.worker",
                kind,
                "--loglevel",
                "INFO",
                "--concurrency",
                str(self.worker_concurrency),
                "--hostname",
                f"{name}-{os.getpid()}-{self.port}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
        )

    def start_waits_worker(self) -> None:
        self.start_worker("waits", kind="waits")

    def start_beat(self) -> None:
        schedule = self.log_dir / f"celerybeat-{self.port}"
        self._spawn(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(schedule),
            ],
        )

    def ensure_port_free(self) -> None:
        if not self.port:
            return
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError:
                raise RuntimeError(
                    f"Port {self.port} on {self.host} is already in use, so the web server cannot listen "
                    "there. Stop what uses it, or pick another port: FLEETDECK_PORT=8010 make demo"
                ) from None

    def start(self, timeout: float = 30.0) -> Stack:
        if not self.port:
            self.port = free_port()
        self.start_web()
        self.start_worker()
        self.start_waits_worker()
        if self.beat:
            self.start_beat()
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / name}.log")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the web server did not answer on {self.url} within {timeout:.0f} s")

    def restart_failed(self) -> list[str]:
        """Start again each worker or beat that exited with a failure; return their names. Raises
        RuntimeError, and leaves it down, when one failed RESTART_LIMIT times in RESTART_WINDOW s."""
        restarted = []
        with self._lock:
            for name in RESTART_ON_FAILURE:
                proc = self.processes.get(name)
                if proc is None or proc.poll() is None or proc.returncode == 0 or self._stopping.is_set():
                    continue
                now = time.monotonic()
                recent = [at for at in self.restarts.get(name, []) if now - at < RESTART_WINDOW]
                if len(recent) >= RESTART_LIMIT:
                    raise RuntimeError(
                        f"{name} failed {len(recent) + 1} times within {RESTART_WINDOW:.0f} s and stays down; "
                        f"see {self.log_dir / name}.log"
                    )
                self.restarts[name] = [*recent, now]
                log.warning("%s exited with %s; starting it again", name, proc.returncode)
                self._starters()[name]()
                restarted.append(name)
        return restarted

    def _starters(self) -> dict:
        return {"worker": self.start_worker, "waits": self.start_waits_worker, "beat": self.start_beat}

    def start_missing(self) -> list[str]:
        """Start web, the workers and beat where they are missing or not running; return their names."""
        started = []
        with self._lock:
            for name, start in {"web": self.start_web, **self._starters()}.items():
                proc = self.processes.get(name)
                if (name != "beat" or self.beat) and (proc is None or proc.poll() is not None):
                    self.processes.pop(name, None)
                    start()
                    started.append(name)
        return started

    def supervise(self, interval: float = 0.5) -> None:
        """Restart failed workers and beat from a thread of this process, until `stop()`."""

        def watch() -> None:
            while not self._stopping.wait(interval):
                try:
                    self.restart_failed()
                except RuntimeError as exc:
                    log.error("%s", exc)
                    return

        self._stopping.clear()
        self._supervisor = threading.Thread(target=watch, name="stack-supervisor", daemon=True)
        self._supervisor.start()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill a child and forget it: it is not restarted (a test restarts it when it means to)."""
        with self._lock:
            proc = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def start_agent(self, name: str, config: Path) -> None:
        """A `fleetdeck-agent run` child, like the others: its own session, SIGTERM if we die."""
        self._spawn(
            name,
            [sys.executable, "-m", "fleetdeck_agent", "run", "--config", str(config)],
            env={"FLEETDECK_AGENT_EC2_METADATA": "0"},
        )

    def stop(self, names: list[str] | None = None, timeout: float = 10.0) -> None:
        """SIGTERM the named children (default: all, and supervision ends), then SIGKILL whatever
        outlives `timeout`."""
        if names is None:
            self._stopping.set()
            if self._supervisor is not None:
                self._supervisor.join(timeout=timeout)
        with self._lock:
            chosen = {n: p for n, p in self.processes.items() if names is None or n in names}
        for proc in chosen.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in chosen.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for name in chosen:
            self.processes.pop(name, None)


_redis: embedded_redis.EmbeddedRedis | None = None


def configure():
    """Set Django up in this process, start the embedded Redis when REDIS_URL is unset (this process
    then owns it), and make the children share that Redis and the var directory."""
    global _redis
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    if settings.EMBEDDED_REDIS:
        _redis = embedded_redis.start(settings.VAR_DIR)
    os.environ["REDIS_URL"] = settings.REDIS_URL
    os.environ.setdefault("FLEETDECK_VAR_DIR", str(settings.VAR_DIR))
    return settings


def shutdown(running) -> None:
    """Stop a Stack (or a demo), then the embedded Redis if `configure` started it: last, so the
    worker can still acknowledge its tasks while it stops."""
    global _redis
    running.stop()
    if _redis is not None:
        _redis.stop()
        _redis = None


def _interrupt(signum, frame):
    """Ctrl-C and SIGTERM both stop the stack."""
    raise KeyboardInterrupt


def _foreground(stack: Stack) -> int:
    """Wait for Ctrl-C. A worker or beat that fails is started again; any other child that exits (or
    a worker or beat that keeps failing) ends the wait."""
    while True:
        try:
            for name in stack.restart_failed():
                print(f"{name} died; started it again (see {stack.log_dir / name}.log)", file=sys.stderr)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
        for name, proc in stack.processes.items():
            failed_restartable = name in RESTART_ON_FAILURE and proc.returncode not in (None, 0)
            if proc.poll() is not None and not failed_restartable:
                print(
                    f"{name} exited with {proc.returncode}; see {stack.log_dir / name}.log", file=sys.stderr
                )
                return 1
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Fleetdeck's web server, worker and beat.")
    try:  # parsed as strictly as the server's settings: a bad value is a line, not a traceback
        port = env_int("FLEETDECK_PORT", 8000, minimum=1, maximum=65535)
        host = env_str("FLEETDECK_HOST", "127.0.0.1")
        web_workers = env_int("FLEETDECK_WEB_WORKERS", 1, minimum=1)
    except ConfigError as exc:
        print(f"fleetdeck: {exc}", file=sys.stderr)
        return 2
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--host", default=host)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also migrate, seed the demo project, start four local agents and deploy a sample app",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    settings = configure()
    # Only now that Django is set up: the demo reads and writes models.
    from config.demo import Demo

    stack = Stack(host=args.host, port=args.port, log_dir=settings.VAR_DIR / "logs", web_workers=web_workers)
    # Explicitly: a shell that starts us in the background would have SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    demo = None
    code = 0
    try:
        if args.demo:
            demo = Demo(stack, settings.VAR_DIR, out=lambda line: print(line, flush=True), started=started)
            demo.setup()
            print(demo.summary(), flush=True)
        else:
            stack.ensure_port_free()
            stack.start()
            print(
                f"\nFleetdeck is running at {stack.url}/  (logs in {stack.log_dir}; Ctrl-C stops everything)\n"
            )
            sys.stdout.flush()
        code = _foreground(stack)
    except KeyboardInterrupt:
        pass
    except (DemoError, RuntimeError) as exc:  # a setup step failed: say which, then stop what started
        print(f"\n{exc}", file=sys.stderr)
        code = 1
    finally:
        # A second Ctrl-C must not cut the clean-up short; the children die with us anyway.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("Stopping…", flush=True)
        shutdown(demo or stack)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
