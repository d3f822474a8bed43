"""Real processes for end-to-end tests: agents started with the real `fleetdeck-agent` CLI,
bundles whose hooks record what ran, and a small API client."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

AGENT = [sys.executable, "-m", "fleetdeck_agent"]
AGENT_ENV = {"FLEETDECK_AGENT_BACKOFF_CAP": "1"}
EVENTS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")

# One hook for every event. It learns its host from its own path (<agents>/<name>/root/...),
# records "<time> <host> <event> <deployment> <revision label>", prints two lines with a pause
# between them, and obeys control files: <ctl>/<host>.<event>.fail, <ctl>/<label>.<event>.fail
# (every host, one revision) and <ctl>/<host>.<event>.sleep.
HOOK = """#!/bin/sh
here=$(cd "$(dirname "$0")" && pwd)
host=$(echo "$here" | sed -n 's#.*/agents/\\([^/]*\\)/root/.*#\\1#p')
ctl="{ctl}"
echo "$(date +%s.%N) $host $LIFECYCLE_EVENT $DEPLOYMENT_ID {label} start" >> "{record}"
echo "{label} $LIFECYCLE_EVENT on $host: first line"
if [ -e "$ctl/$host.$LIFECYCLE_EVENT.sleep" ]; then sleep "$(cat "$ctl/$host.$LIFECYCLE_EVENT.sleep")"; fi
echo "{label} $LIFECYCLE_EVENT on $host: second line"
if [ -e "$ctl/$host.$LIFECYCLE_EVENT.fail" ] || [ -e "$ctl/{label}.$LIFECYCLE_EVENT.fail" ]; then
  echo "failing on purpose" >&2; exit 3
fi
echo "$(date +%s.%N) $host $LIFECYCLE_EVENT $DEPLOYMENT_ID {label} end" >> "{record}"
"""


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def recording_bundle(path: Path, *, label: str, record: Path, ctl: Path, events=EVENTS) -> Path:
    appspec = "version: 0.0\nos: linux\nhooks:\n" + "".join(
        f"  {event}:\n    - location: scripts/hook.sh\n      timeout: 120\n" for event in events
    )
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "appspec.yml", appspec.encode())
        _add(tar, "scripts/hook.sh", HOOK.format(ctl=ctl, record=record, label=label).encode(), 0o755)
    return path


@dataclass
class Record:
    at: float
    host: str
    event: str
    deployment: str
    label: str
    phase: str


def read_records(path: Path) -> list[Record]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        at, host, event, deployment, label, phase = line.split()
        out.append(Record(float(at), host, event, deployment, label, phase))
    return out


class Api:
    def __init__(self, base: str, token: str):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def _check(self, response: requests.Response, expected) -> dict:
        expected = (expected,) if isinstance(expected, int) else expected
        assert response.status_code in expected, f"{response.status_code}: {response.text[:2000]}"
        return response.json() if response.content else {}

    def get(self, path: str, expected=200, **params) -> dict:
        return self._check(self.session.get(self.base + path, params=params, timeout=30), expected)

    def post(self, path: str, body: dict | None = None, expected=(200, 201, 202), **kwargs) -> dict:
        return self._check(self.session.post(self.base + path, json=body, timeout=60, **kwargs), expected)

    def patch(self, path: str, body: dict, expected=200) -> dict:
        return self._check(self.session.patch(self.base + path, json=body, timeout=30), expected)

    def upload(self, app: str, bundle: Path, description: str = "") -> dict:
        with open(bundle, "rb") as fh:
            response = self.session.post(
                f"{self.base}/api/v1/applications/{app}/revisions/",
                files={"bundle": (bundle.name, fh)},
                data={"description": description},
                timeout=60,
            )
        return self._check(response, 201)

    def wait(self, deployment_id: str, timeout: float = 60, until=None) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            detail = self.get(f"/api/v1/deployments/{deployment_id}/")
            done = until(detail) if until else detail["status"] in ("Succeeded", "Failed", "Stopped")
            if done:
                return detail
            if time.monotonic() > deadline:
                raise AssertionError(f"{deployment_id} still {detail['status']} after {timeout} s: {detail}")
            time.sleep(0.2)


@dataclass
class Agent:
    name: str
    home: Path
    proc: subprocess.Popen | None = None

    @property
    def config(self) -> Path:
        return self.home / "agent.yml"

    @property
    def root(self) -> Path:
        return self.home / "root"

    @property
    def log(self) -> Path:
        return self.home / "agent.log"


@dataclass
class Fleet:
    """Agents of one test. Names get a per-test suffix so tests never share hosts."""

    server: str
    api: Api
    base: Path
    env: dict = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def _env(self) -> dict:
        return {**os.environ, "FLEETDECK_AGENT_EC2_METADATA": "0", "PYTHONUNBUFFERED": "1", **self.env}

    _project: str | None = None

    @property
    def project(self) -> str:
        """The slug of this test's project, created on first use; the API user becomes its owner."""
        if self._project is None:
            slug = f"e2e-{self.tag}"
            self.api.post("/api/v1/projects/", {"name": f"E2E {self.tag}", "slug": slug, "description": ""})
            self._project = slug
        return self._project

    def registration_token(self, tags: dict) -> str:
        body = {"project": self.project, "tags": tags, "expires_at": None}
        return self.api.post("/api/v1/registration-tokens/", body)["token"]

    def start(self, names: list[str], tags: dict | None = None) -> list[Agent]:
        tags = {"fleet": self.tag, **(tags or {})}
        token = self.registration_token(tags)
        started = []
        for name in names:
            agent = Agent(name=name, home=self.base / "agents" / name)
            agent.home.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    *AGENT,
                    "register",
                    "--server",
                    self.server,
                    "--token",
                    token,
                    "--name",
                    name,
                    "--root",
                    str(agent.root),
                    "--config",
                    str(agent.config),
                ],
                env=self._env(),
                check=True,
                capture_output=True,
                timeout=60,
            )
            self.agents[name] = agent
            self.run(agent)
            started.append(agent)
        return started

    def run(self, agent: Agent) -> None:
        log = open(agent.log, "ab")  # noqa: SIM115 - owned by the child
        agent.proc = subprocess.Popen(
            [*AGENT, "run", "--config", str(agent.config)],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        agent = self.agents[name]
        if agent.proc and agent.proc.poll() is None:
            os.killpg(agent.proc.pid, sig)
            agent.proc.wait(timeout=30)

    def stop_all(self) -> None:
        for agent in self.agents.values():
            if agent.proc and agent.proc.poll() is None:
                try:
                    os.killpg(agent.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for agent in self.agents.values():
            if agent.proc:
                try:
                    agent.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(agent.proc.pid, signal.SIGKILL)


# --- the live stack, shared by tests/e2e and tests/faults ---------------------------------------


def database_url(settings_dict: dict) -> str:
    """The test database as a DATABASE_URL for the stack's processes."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"


def stack_env(base: Path, redis_url: str, queue_prefix: str) -> dict[str, str]:
    """Settings for a stack on the test database, its own queue and short sweep/offline timeouts."""
    from django.conf import settings
    from django.db import connection

    return {
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": redis_url,
        "FLEETDECK_VAR_DIR": str(settings.VAR_DIR),  # the secret key, so session cookies work
        "FLEETDECK_STORAGE_DIR": str(base / "storage"),
        "FLEETDECK_QUEUE": f"{queue_prefix}-{uuid.uuid4().hex[:8]}",
        "FLEETDECK_SWEEP_INTERVAL": "1",
        "FLEETDECK_AGENT_OFFLINE_AFTER": "4",
        "FLEETDECK_AGENT_PICKUP_TIMEOUT": "60",
        "FLEETDECK_HOOK_TIMEOUT_GRACE": "5",
        # The stack's fakes, health-check servers and moto are on loopback, and the worker's AWS chain
        # is moto's fake credentials: opened as an operator would.
        "FLEETDECK_OUTBOUND_ALLOW": "127.0.0.0/8,::1",
        "FLEETDECK_AWS_DEFAULT_CREDENTIALS": "all",
    }


def api_user(url: str, prefix: str) -> Api:
    """A new user with an API token (needs the database)."""
    from django.contrib.auth import get_user_model

    from projects.models import ApiToken

    user = get_user_model().objects.create_user(f"{prefix}-{uuid.uuid4().hex[:8]}", password=uuid.uuid4().hex)
    return Api(url, ApiToken.issue(user, "e2e")[1])


@contextlib.contextmanager
def started_stack(env: dict, log_dir: Path):
    """uvicorn, a Celery worker and beat (config.stack.Stack) on `env`, stopped afterwards. A worker or
    beat that dies is started again, as `python -m config.stack` and the systemd units do."""
    from config.stack import Stack

    stack = Stack(env=env, log_dir=log_dir)
    try:
        stack.start(timeout=60)
        stack.supervise()
        yield stack
    finally:
        stack.stop()


@contextlib.contextmanager
def fleet_of(url: str, api: Api, base: Path):
    """A Fleet whose agents are stopped, and their files removed (unless FLEETDECK_KEEP_E2E), after."""
    fleet = Fleet(server=url, api=api, base=base, env=dict(AGENT_ENV))
    try:
        yield fleet
    finally:
        fleet.stop_all()
        if not os.environ.get("FLEETDECK_KEEP_E2E"):
            shutil.rmtree(base / "agents", ignore_errors=True)
