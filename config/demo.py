"""The steps of `make demo` between "nothing is running" and "a rollout has finished", and back.

`Demo.setup()` migrates, seeds, starts the stack and four agents, uploads the next sample
revision and deploys it through `engine.create_deployment` (the dashboard's path), then waits for
the result. `Demo.stop()` undoes every start. `config.stack --demo` runs setup, waits for Ctrl-C,
then stops; tests call setup and stop themselves.

It lives in config/, the composition root, because it drives every part: the stack's processes
(config.stack), the demo's rows and sample app (dashboard.demo), the engine and the real agent CLI.

Each run deploys a fresh revision ("demo vN"): stopping the demo stops the sample services, and
a new rollout is what brings them back, showing ApplicationStop of the previous revision on the way.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.management import call_command
from django.db import close_old_connections, connections
from django.urls import reverse
from django.utils import timezone
from fleetdeck_agent.config import ConfigError, load_config, save_config

from dashboard.demo import PROJECT_SLUG, DemoError, DemoHost, demo_dir, hosts, seed
from dashboard.demo.sample import port_in_use, prepare_host, stop_services
from deployments.models import DEPLOYMENT_TERMINAL, Deployment, Instance

if TYPE_CHECKING:  # config.stack starts the demo (and imports this module): no import back at runtime
    from config.stack import Stack

AGENT = [sys.executable, "-m", "fleetdeck_agent"]


@dataclass
class Demo:
    stack: Stack
    var_dir: Path
    out: Callable[[str], None] = print
    deploy_timeout: float = 300.0
    # When the command started (time.monotonic()), for the "succeeded N s from start" figure.
    started: float = field(default_factory=time.monotonic)
    hosts: list[DemoHost] = field(default_factory=list)
    password: str = ""
    deployment_id: str = ""
    status: str = ""
    error: str = ""
    elapsed: float = 0.0
    _lock: object = None

    def __post_init__(self) -> None:
        if not self.hosts:
            self.hosts = hosts(self.var_dir)

    # --- URLs ----------------------------------------------------------------------------

    @property
    def project_url(self) -> str:
        return self.stack.url + reverse("project", args=[PROJECT_SLUG])

    @property
    def deployment_url(self) -> str:
        return self.stack.url + reverse(
            "deployment_detail", kwargs={"slug": PROJECT_SLUG, "deployment_id": self.deployment_id}
        )

    def agent_process(self, host: DemoHost) -> str:
        return f"agent-{host.name}"

    # --- setup ---------------------------------------------------------------------------

    def setup(self) -> Demo:
        self._take_lock()
        stop_services(self.hosts)  # left by a run that was killed without cleanup
        self._check_ports()
        call_command("migrate", interactive=False, verbosity=0)
        user, self.password = seed.ensure_login(self.var_dir)
        project, application, group = seed.ensure_project(user)
        connections.close_all()
        self.stack.start(timeout=60)
        self.out(f"Server, workers and beat are up at {self.stack.url}/ (logs in {self.stack.log_dir})")
        since = timezone.now()
        self._register(project, user)
        for host in self.hosts:
            prepare_host(host, watch_pid=os.getpid())
            self.stack.start_agent(self.agent_process(host), host.config)
        self._wait_online(since)
        self.out(f"Agents {', '.join(h.name for h in self.hosts)} are online")
        for left in seed.stop_unfinished(group):
            self.out(f"Stopping {left}, left unfinished by an earlier run")
        revision = seed.new_revision(application, user)
        deployment = seed.deploy(group, revision, user)
        self.deployment_id = deployment.id
        self.out(
            f"Deploying {revision.description!r} to {len(self.hosts)} hosts, half at a time. Watch it: {self.deployment_url}"
        )
        self._wait_deployment()
        self.elapsed = time.monotonic() - self.started
        connections.close_all()
        self._write_status()
        return self

    def _take_lock(self) -> None:
        path = demo_dir(self.var_dir) / "lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path, "a+")  # noqa: SIM115 - held for the demo's lifetime
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise DemoError(
                f"Another `make demo` is running with the var directory {self.var_dir}. Stop it "
                "(Ctrl-C), or give this one its own: FLEETDECK_VAR_DIR=/some/dir make demo"
            ) from None
        self._lock = lock

    def _check_ports(self) -> None:
        self.stack.ensure_port_free()
        busy = [h for h in self.hosts if port_in_use(h.port)]
        if busy:
            ports = ", ".join(str(h.port) for h in busy)
            raise DemoError(
                f"The sample app's port(s) {ports} are already in use (the four hosts use "
                f"{self.hosts[0].port}-{self.hosts[-1].port}). Pick another range: "
                "FLEETDECK_DEMO_PORT_BASE=9081 make demo"
            )

    def _register(self, project, user) -> None:
        """Register (with the real CLI) only the agents without a valid stored credential."""

        def stored(host: DemoHost):
            try:
                return load_config(str(host.config))
            except ConfigError:
                return None

        missing = [
            h for h in self.hosts if not seed.registered(h, project, getattr(stored(h), "credential", None))
        ]
        if missing:
            released = seed.release_names(project, [h.name for h in missing])
            if released:
                self.out(f"Deregistered {', '.join(released)}: their agents' credentials were lost")
            token = seed.registration_token(project, user)
            connections.close_all()
            # The token goes in the environment, not the command line that `ps` shows.
            env = {**os.environ, "FLEETDECK_AGENT_EC2_METADATA": "0", "FLEETDECK_REGISTRATION_TOKEN": token}
            running = []
            for host in missing:
                host.home.mkdir(parents=True, exist_ok=True)
                argv = [
                    *AGENT, "register", "--server", self.stack.url, "--name", host.name,
                    "--root", str(host.root), "--config", str(host.config), "--tag", f"az={host.az}",
                ]  # fmt: skip
                running.append(
                    (host, subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
                )
            for host, proc in running:
                output = proc.communicate(timeout=60)[0].decode(errors="replace").strip()
                if proc.returncode:
                    raise DemoError(f"`fleetdeck-agent register` failed for {host.name}: {output}")
            self.out(f"Registered {', '.join(h.name for h in missing)} with a new registration token")
        for host in self.hosts:
            # The web port may differ from the last run's; quick shutdowns keep Ctrl-C snappy.
            config = load_config(str(host.config))
            config.server = self.stack.url
            config.shutdown_grace = 5.0
            config.backoff_cap = 2.0
            save_config(config, str(host.config))

    def _wait_online(self, since, timeout: float = 60.0) -> None:
        names = [h.name for h in self.hosts]
        deadline = time.monotonic() + timeout
        while True:
            self._check_children()
            close_old_connections()
            seen = set(
                Instance.objects.filter(
                    project__slug=PROJECT_SLUG,
                    name__in=names,
                    deregistered_at__isnull=True,
                    last_seen__gte=since,
                ).values_list("name", flat=True)
            )
            if len(seen) == len(names):
                return
            if time.monotonic() > deadline:
                late = ", ".join(sorted(set(names) - seen))
                raise DemoError(
                    f"Agent(s) {late} did not reach the server within {timeout:.0f} s; see {self.stack.log_dir}"
                )
            time.sleep(0.2)

    def _wait_deployment(self) -> None:
        deadline = time.monotonic() + self.deploy_timeout
        last = ""
        while time.monotonic() < deadline:
            self._check_children()
            close_old_connections()
            deployment = Deployment.objects.get(pk=self.deployment_id)
            done = deployment.targets.filter(status="Succeeded").count()
            line = f"{deployment.status}, {done}/{len(self.hosts)} hosts done"
            if line != last:
                self.out(f"  {self.deployment_id}: {line}")
                last = line
            if deployment.status in DEPLOYMENT_TERMINAL:
                self.status = deployment.status
                problems = (
                    [f"{deployment.error_code}: {deployment.error_message}"] if deployment.error_code else []
                )
                missed = deployment.targets.exclude(status="Succeeded").values_list(
                    "instance__name", flat=True
                )
                if missed:  # HalfAtATime succeeds with a host down: say which
                    problems.append(f"not succeeded on {', '.join(sorted(missed))}")
                self.error = "; ".join(problems)
                return
            time.sleep(0.3)
        self.status = "Unfinished"
        self.error = f"still running after {self.deploy_timeout:.0f} s"

    def _check_children(self) -> None:
        self.stack.restart_failed()  # a worker or beat that died starts again, as in the foreground
        for name, proc in self.stack.processes.items():
            if proc.poll() is not None:
                raise DemoError(f"{name} exited with {proc.returncode}; see {self.stack.log_dir / name}.log")

    def _write_status(self) -> None:
        """<var>/demo/status.json: what the summary prints, for scripts (no password)."""
        status = {
            "url": self.stack.url + "/",
            "project_url": self.project_url,
            "deployment": self.deployment_id,
            "deployment_url": self.deployment_url,
            "status": self.status,
            "error": self.error,
            "seconds": round(self.elapsed, 1),
            "pid": os.getpid(),
            "hosts": [{"name": h.name, "az": h.az, "url": h.url} for h in self.hosts],
        }
        (demo_dir(self.var_dir) / "status.json").write_text(json.dumps(status, indent=2) + "\n")

    def summary(self) -> str:
        outcome = f"{self.status} in {self.elapsed:.1f} s from start" + (
            f" ({self.error})" if self.error else ""
        )
        lines = [
            "",
            "Fleetdeck demo is running.",
            f"  Dashboard:   {self.stack.url}/   log in as demo / {self.password}",
            f"  Project:     {self.project_url}",
            f"  Deployment:  {self.deployment_url}   {outcome}",
            "  Sample app (one small HTTP service per host, started by the ApplicationStart hook):",
            *(f"    {h.name} (az={h.az}):  {h.url}" for h in self.hosts),
            f"  Logs in {self.stack.log_dir}. Deploy again from the deployment page (Redeploy).",
            "  Ctrl-C stops everything: web, workers, beat, the agents and the sample services.",
            "",
        ]
        return "\n".join(lines)

    # --- stop ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Agents first (so no hook starts a service afterwards), then the services, then the stack."""
        self.stack.stop([self.agent_process(h) for h in self.hosts])
        stop_services(self.hosts)
        self.stack.stop()
        if self._lock is not None:
            self._lock.close()
            self._lock = None
