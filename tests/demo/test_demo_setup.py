"""`make demo` for real, on a temporary var directory (SQLite and the embedded Redis, the demo's
defaults): the setup steps on their own, then the real command again, stopped with Ctrl-C.

Both runs start uvicorn, a Celery worker, beat and four `fleetdeck-agent` processes, and deploy
the sample bundle whose hooks start and check one HTTP service per host.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import requests
from demo_helpers import quiet_ports

from dashboard.demo import hosts
from dashboard.demo.sample import alive

BASE_DIR = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("demo_driver.py")


def _env(var_dir: Path, port_base: int) -> dict[str, str]:
    """The demo's defaults: no DATABASE_URL or REDIS_URL, nothing else of ours from the outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDECK_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(FLEETDECK_VAR_DIR=str(var_dir), FLEETDECK_DEMO_PORT_BASE=str(port_base), PYTHONUNBUFFERED="1")
    return env


def _log_tails(var_dir: Path, lines: int = 12) -> str:
    """The end of every log the demo wrote, for a failure message."""
    out = []
    for log in sorted((var_dir / "logs").glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        out.append(f"--- {log.name}\n" + "\n".join(tail))
    return "\n".join(out)


class Lines:
    """A child's stdout, read by a thread so waits can time out; failures show the demo's logs."""

    def __init__(self, proc: subprocess.Popen, var_dir: Path):
        self.proc, self.var_dir, self.seen, self._queue = proc, var_dir, [], queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self._queue.put(raw.decode(errors="replace").rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 300) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(
            f"no line matching {pattern!r}; output so far:\n"
            + "\n".join(self.seen)
            + "\n"
            + _log_tails(self.var_dir)
        )


def _processes_of(var_dir: Path) -> dict[int, str]:
    """Every live process that names the var directory in its command line or environment."""
    marker = str(var_dir).encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if (marker in cmdline or marker in environ) and alive(int(entry.name)):
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def _assert_nothing_left(var_dir: Path, pids: dict[str, int] | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = {name: pid for name, pid in (pids or {}).items() if alive(pid)}
        strays = _processes_of(var_dir)
        if not left and not strays:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still running after stop: {left} {strays}")
        time.sleep(0.2)


def _rows(var_dir: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(var_dir / "fleetdeck.sqlite3") as db:
        return db.execute(sql, params).fetchall()


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        assert response.status == 200
        return response.read().decode()


def _counts(var_dir: Path) -> dict[str, int]:
    tables = {
        "users": "auth_user WHERE username = 'demo'",
        "projects": "dashboard_project WHERE slug = 'demo'",
        "applications": "deployments_application WHERE name = 'demo-web'",
        "groups": "deployments_deploymentgroup",
        "instances": "deployments_instance",
        "tokens": "deployments_registrationtoken",
        "revisions": "deployments_revision",
        "deployments": "deployments_deployment",
    }
    return {key: _rows(var_dir, f"SELECT COUNT(*) FROM {table}")[0][0] for key, table in tables.items()}  # noqa: S608


def _start_driver(var_dir: Path, env: dict, port: int) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), str(port)],
        cwd=BASE_DIR, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    report = json.loads(Lines(proc, var_dir).wait_for(r"^\{.*\}$").group(0))
    return proc, report


def _log_in(url: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{url}/accounts/login/", timeout=30)
    response = session.post(
        f"{url}/accounts/login/",
        data={"username": "demo", "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{url}/accounts/login/"},
        timeout=30,
    )
    assert response.status_code == 200 and "/accounts/login/" not in response.url, response.text[:500]
    return session


@pytest.mark.timeout(900)  # two full demo runs; a loaded 2-core machine makes each take minutes
def test_make_demo_deploys_the_sample_app_for_real_and_a_second_run_reuses_everything(tmp_path):
    var_dir = tmp_path / "var"
    base = quiet_ports(6)  # two web ports, then the four hosts' ports
    env = _env(var_dir, base + 2)
    demo_hosts = hosts(var_dir, base + 2)

    # 1. The setup steps alone: everything is created, the agents register, the rollout succeeds.
    proc, report = _start_driver(var_dir, env, base)
    try:
        assert (report["status"], report["error"]) == ("Succeeded", ""), report
        assert set(report["pids"]) >= {"web", "worker", "beat", "redis"} | {
            f"agent-{h.name}" for h in demo_hosts
        }
        assert {f"app-{h.name}" for h in demo_hosts} <= set(report["pids"]), (
            "a hook did not start its service"
        )
        for host in demo_hosts:
            page = _fetch(host.url)
            assert f"demo app on {host.name}" in page and "Revision: demo v1" in page, page
        counts = _counts(var_dir)
        assert counts == {
            "users": 1, "projects": 1, "applications": 1, "groups": 1,
            "instances": 4, "tokens": 1, "revisions": 1, "deployments": 1,
        }  # fmt: skip
        instances = _rows(
            var_dir,
            "SELECT i.name, i.tags FROM deployments_instance i JOIN dashboard_project p ON p.id = i.project_id "
            "WHERE p.slug = 'demo' ORDER BY i.name",
        )
        assert [(name, json.loads(tags)) for name, tags in instances] == [
            (h.name, {"env": "demo", "role": "web", "az": h.az}) for h in demo_hosts
        ]
        assert _rows(var_dir, "SELECT uses FROM deployments_registrationtoken") == [(4,)]
        assert _rows(
            var_dir,
            "SELECT g.name, c.name FROM deployments_deploymentgroup g "
            "JOIN deployments_deploymentconfig c ON c.id = g.deployment_config_id",
        ) == [("web", "CodeDeployDefault.HalfAtATime")]
        assert (
            _rows(
                var_dir,
                "SELECT status FROM deployments_deploymenttarget WHERE deployment_id = ?",
                report["deployment"],
            )
            == [("Succeeded",)] * 4
        )
        assert (var_dir / "demo" / "login").stat().st_mode & 0o777 == 0o600
        # On loopback the demo's web server answers to loopback names only, so it has nothing to warn of.
        assert "fleetdeck.W001" not in (var_dir / "logs" / "web.log").read_text()
    finally:
        proc.communicate(b"stop\n", timeout=60)
    assert proc.returncode == 0
    _assert_nothing_left(var_dir, report["pids"])
    assert not any(h.pidfile.exists() for h in demo_hosts)

    # 2. `make demo` again, the real command: nothing new but a revision and its deployment.
    port = base + 1
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.stack", "--demo", "--port", str(port)],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    lines = Lines(proc, var_dir)
    try:
        password = lines.wait_for(r"log in as demo / (\S+)").group(1)
        assert password == (var_dir / "demo" / "login").read_text().strip()
        lines.wait_for(r"Ctrl-C stops everything")
        status = json.loads((var_dir / "demo" / "status.json").read_text())
        assert (status["status"], status["error"]) == ("Succeeded", ""), status
        assert status["deployment"] != report["deployment"]
        assert _counts(var_dir) == {**counts, "revisions": 2, "deployments": 2}
        assert "Registered" not in "\n".join(lines.seen), "the agents should reuse their credentials"
        assert "Revision: demo v2" in _fetch(demo_hosts[2].url)
        # The previous revision's ApplicationStop really ran on every host this time.
        stops = _rows(
            var_dir,
            "SELECT e.status FROM deployments_lifecycleevent e JOIN deployments_deploymenttarget t "
            "ON t.id = e.target_id WHERE t.deployment_id = ? AND e.name = 'ApplicationStop'",
            status["deployment"],
        )
        assert stops == [("Succeeded",)] * 4
        # The printed login and deep link work.
        page = _log_in(f"http://127.0.0.1:{port}", password).get(status["deployment_url"], timeout=30)
        assert page.status_code == 200 and status["deployment"] in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0, "\n".join(lines.seen)
    _assert_nothing_left(var_dir)


def test_make_demo_says_which_port_is_taken_and_leaves_nothing_running(tmp_path):
    var_dir = tmp_path / "var"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "config.stack", "--demo", "--port", str(port)],
            cwd=BASE_DIR, env=_env(var_dir, quiet_ports(4)), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "FLEETDECK_PORT=" in result.stderr
    _assert_nothing_left(var_dir)
