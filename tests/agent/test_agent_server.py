"""Server mode (`fleetdeck-agent run`) against a fake `/agent/v1/` API, as a real subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

HEAD = "version: 0.0\nos: linux\n"
RESTART_MESSAGE = "Failing in-progress lifecycle event after an agent restart"


@pytest.fixture
def refused_url():
    """A port that is bound but not listening: connections are refused, and no one else can take it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


class AgentProcess:
    def __init__(self, tmp_path: Path, server: str, **overrides):
        self.root = tmp_path / "agent-root"
        self.config = tmp_path / "agent.yml"
        data = {
            "server": server,
            "credential": "fdi_test_credential",
            "name": "t",
            "root": str(self.root),
            "poll_wait": 1,
            "backoff_start": 0.05,
            "backoff_cap": 0.2,
            "heartbeat_interval": 10.0,
            "shutdown_grace": 10.0,
            "kill_grace": 0.5,
            "ec2_metadata": False,
        }
        data.update(overrides)
        self.config.write_text(yaml.safe_dump(data))
        self.stderr_path = tmp_path / "agent.stderr"
        self.proc = None

    def start(self, **env: str):
        self.stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fleetdeck_agent", "run", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            env={**os.environ, **env},
        )
        return self

    def log(self) -> str:
        return self.stderr_path.read_text()

    def terminate(self, timeout=15) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.stderr.close()


@pytest.fixture
def start_agent(tmp_path):
    agents = []

    def start(server, **overrides) -> AgentProcess:
        process = AgentProcess(tmp_path, server, **overrides)
        agents.append(process)
        return process

    yield start
    for process in agents:
        process.stop()


def wait_until(condition, timeout: float = 15.0) -> bool:
    """Wait on the condition itself, never on a fixed sleep that a loaded machine outlasts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def write_ongoing(root: Path, command_id: str, completion=None):
    ongoing = root / "ongoing-deployment"
    ongoing.mkdir(parents=True, exist_ok=True)
    record = {
        "command": {"id": command_id, "lifecycle_event": "AfterInstall"},
        "started_at": "2026-01-01T00:00:00+00:00",
    }
    if completion:
        record["completion"] = completion
    path = ongoing / f"{command_id}.json"
    path.write_text(json.dumps(record))
    return path


def bundle_command(fake_server, bundle: Path, event: str, command_id: str, **extra) -> dict:
    path = "/agent/v1/bundles/1/"
    fake_server.bundles[path] = bundle.read_bytes()
    command = {
        "id": command_id,
        "deployment_id": "d-SERVER1",
        "lifecycle_event": event,
        "application_name": "shop",
        "deployment_group_name": "web",
        "deployment_group_id": "dg-7",
        "deployment_creator": "user",
        "revision": {
            "id": 1,
            "source": "fleetdeck",
            "bundle_type": "tgz",
            "url": fake_server.url + path,
            "sha256": hashlib.sha256(bundle.read_bytes()).hexdigest(),
            "env": {},
        },
        "file_exists_behavior": "DISALLOW",
        "ignore_application_stop_failures": False,
        "mark_successful": False,
    }
    command.update(extra)
    return command


def test_restart_keeps_retrying_the_failed_completion_while_the_server_is_unreachable(
    tmp_path, start_agent, refused_url
):
    agent = start_agent(refused_url)
    ongoing = write_ongoing(agent.root, "cmd-interrupted")
    agent.start()
    assert wait_until(lambda: agent.log().count("Reporting completion of cmd-interrupted failed") >= 3), (
        agent.log()
    )
    assert agent.proc.poll() is None, agent.log()
    log = agent.log()
    assert "cmd-interrupted was in progress when the agent stopped" in log
    assert "fdi_test_credential" not in log
    assert agent.terminate() == 0
    assert ongoing.exists(), "an unreported failure must be re-sent on the next start"


def test_restart_reports_in_progress_commands_as_failed(tmp_path, start_agent, fake_server):
    agent = start_agent(fake_server.url)
    ongoing = write_ongoing(agent.root, "cmd-interrupted")
    agent.start()
    assert fake_server.wait_for(lambda: "cmd-interrupted" in fake_server.completes), agent.log()
    body = fake_server.completes["cmd-interrupted"][1]
    assert body["status"] == "Failed"
    assert body["diagnostics"]["error_code"] == "UnknownError"
    assert body["diagnostics"]["message"] == RESTART_MESSAGE
    assert fake_server.wait_for(lambda: not ongoing.exists())
    assert agent.terminate() == 0


def test_restart_resends_a_stored_completion_unchanged(tmp_path, start_agent, fake_server):
    agent = start_agent(fake_server.url)
    completion = {
        "status": "Succeeded",
        "started_at": "a",
        "ended_at": "b",
        "diagnostics": {"error_code": "Success", "script_name": "", "message": "ok", "log_tail": ""},
    }
    write_ongoing(agent.root, "cmd-done", completion)
    agent.start()
    assert fake_server.wait_for(lambda: "cmd-done" in fake_server.completes)
    body = dict(fake_server.completes["cmd-done"][1])
    # With the command at hand the agent also asks for the next event already started.
    assert set(body.pop("start_next")["timeouts"]) >= {"DownloadBundle", "BeforeInstall", "ValidateService"}
    assert body == completion
    agent.terminate()


def test_a_command_handed_over_started_runs_without_an_ack(
    tmp_path, start_agent, fake_server, make_revision, make_bundle
):
    marker = tmp_path / "ran"
    spec = HEAD + "hooks:\n  AfterInstall:\n    - location: s.sh\n      timeout: 45\n"
    bundle = make_bundle(make_revision(spec, {"s.sh": f"#!/bin/sh\ntouch {marker}\n"}), "tgz")
    fake_server.commands = [bundle_command(fake_server, bundle, "DownloadBundle", "c1")]
    fake_server.hand_over["c1"] = [
        {**bundle_command(fake_server, bundle, "AfterInstall", "c2"), "started": True}
    ]
    agent = start_agent(fake_server.url).start()
    assert fake_server.wait_for(lambda: "c2" in fake_server.completes, timeout=20), agent.log()
    assert fake_server.acked == ["c1"]  # c2 came back started: no ack
    assert marker.exists()
    assert fake_server.completes["c2"][1]["status"] == "Succeeded"
    # c1's completion carried the hook timeouts of the revision it had just downloaded.
    assert fake_server.completes["c1"][1]["start_next"]["timeouts"]["AfterInstall"] == 45
    assert fake_server.wait_for(lambda: not list((agent.root / "ongoing-deployment").iterdir()))
    assert agent.terminate() == 0


def test_a_command_handed_over_started_is_journalled_on_receipt_and_a_restart_reports_it(
    tmp_path, fake_server
):
    """Between receiving a started command and starting its hook the agent may die: the journal is
    written on receipt, so the next start reports the event Failed (the restart rule) instead of the
    server waiting out its hook timeout. A command reported meanwhile is never run."""
    from fleetdeck_agent.config import load_config
    from fleetdeck_agent.runner import Agent

    process = AgentProcess(tmp_path, fake_server.url)
    agent = Agent(load_config(str(process.config)))
    handed = {"id": "c-next", "lifecycle_event": "BeforeInstall", "deployment_id": "d-X", "started": True}
    fake_server.hand_over["c-prev"] = [handed]
    done = {"status": "Succeeded", "diagnostics": {"error_code": "Success"}}
    assert agent._complete("c-prev", done, {"id": "c-prev", "lifecycle_event": "ApplicationStop"})
    journal = process.root / "ongoing-deployment" / "c-next.json"
    assert json.loads(journal.read_text())["command"]["id"] == "c-next"
    assert [c["id"] for c in agent.prefetched] == ["c-next"]
    # "Restart": a new agent on the same root reports it before anything else, and skips it after.
    again = Agent(load_config(str(process.config)))
    again.recover()
    body = fake_server.completes["c-next"][1]
    assert (body["status"], body["diagnostics"]["message"]) == ("Failed", RESTART_MESSAGE)
    assert not journal.exists()
    assert "c-next" in again.done


def test_polls_carry_the_agent_version_and_its_ec2_instance_id(tmp_path, start_agent, fake_server):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))  # its fake IMDS
    from fakes import imds_fake

    imds = imds_fake("i-0fedcba9876543210")
    try:
        agent = start_agent(fake_server.url, ec2_metadata=True).start(
            FLEETDECK_AGENT_EC2_METADATA_URL=imds.url
        )
        polls = lambda: [r["body"] for r in fake_server.requests if r["path"] == "/agent/v1/poll/"]  # noqa: E731
        assert fake_server.wait_for(lambda: len(polls()) >= 2), agent.log()
    finally:
        imds.stop()
    from fleetdeck_agent import __version__

    assert all(
        body == {"agent_version": __version__, "ec2_instance_id": "i-0fedcba9876543210"} for body in polls()
    )
    assert agent.terminate() == 0


def test_run_acks_streams_logs_and_completes_each_command(
    tmp_path, start_agent, fake_server, make_revision, make_bundle
):
    spec = HEAD + "hooks:\n  AfterInstall:\n    - location: s.sh\n      timeout: 30\n"
    rev = make_revision(spec, {"s.sh": "#!/bin/sh\necho first\nsleep 1\necho second\n"})
    bundle = make_bundle(rev, "tgz")
    fake_server.commands = [
        bundle_command(fake_server, bundle, "DownloadBundle", "c1"),
        bundle_command(fake_server, bundle, "AfterInstall", "c2"),
    ]
    agent = start_agent(fake_server.url).start()
    assert fake_server.wait_for(lambda: "c2" in fake_server.completes, timeout=20), agent.log()
    assert fake_server.acked == ["c1", "c2"]
    assert fake_server.completes["c1"][1]["status"] == "Succeeded"
    done_at, body = fake_server.completes["c2"]
    assert body["status"] == "Succeeded", body
    lines = fake_server.logs["c2"]
    # Lines stream in batches while the script runs; whatever is left rides with the completion.
    with_completion = [line["seq"] for line in body.get("lines", [])]
    assert sorted([*lines, *with_completion]) == list(range(1, len(lines) + len(with_completion) + 1))
    first = next(at for at, line in lines.values() if line["text"] == "first")
    assert done_at - first > 0.5, "lines must stream while the script runs"
    assert {line["stream"] for _at, line in lines.values()} <= {"stdout", "stderr"}
    paths = [r["path"] for r in fake_server.requests]
    assert paths.index("/agent/v1/commands/c2/ack/") < paths.index("/agent/v1/commands/c2/complete/")
    assert all(r["authorization"] == "Bearer fdi_test_credential" for r in fake_server.requests)
    ack = next(r for r in fake_server.requests if r["path"] == "/agent/v1/commands/c2/ack/")
    assert ack["body"] == {"timeout_seconds": 30}
    # The journal entry goes once the agent has read the server's answer to the completion.
    ongoing = agent.root / "ongoing-deployment"
    assert fake_server.wait_for(lambda: not list(ongoing.iterdir()), timeout=10), list(ongoing.iterdir())
    assert agent.terminate() == 0


def test_a_cancelled_command_is_not_run(tmp_path, start_agent, fake_server, make_revision, make_bundle):
    marker = tmp_path / "ran"
    rev = make_revision(
        HEAD + "hooks:\n  BeforeInstall:\n    - location: s.sh\n", {"s.sh": f"#!/bin/sh\ntouch {marker}\n"}
    )
    fake_server.commands = [bundle_command(fake_server, make_bundle(rev), "BeforeInstall", "c-cancelled")]
    fake_server.ack_status["c-cancelled"] = 409
    agent = start_agent(fake_server.url).start()
    assert fake_server.wait_for(lambda: "cancelled before it started" in agent.log(), timeout=10), agent.log()
    assert not marker.exists()
    assert "c-cancelled" not in fake_server.completes
    agent.terminate()


def test_sigterm_finishes_the_running_event_reports_and_exits_0(
    tmp_path, start_agent, fake_server, make_revision, make_bundle
):
    started = tmp_path / "started"
    rev = make_revision(
        HEAD + "hooks:\n  BeforeInstall:\n    - location: s.sh\n",
        {"s.sh": f"#!/bin/sh\ntouch {started}\nsleep 1.5\necho finished\n"},
    )
    fake_server.commands = [bundle_command(fake_server, make_bundle(rev), "BeforeInstall", "c-slow")]
    agent = start_agent(fake_server.url, heartbeat_interval=0.3).start()
    assert wait_until(started.exists), agent.log()  # SIGTERM arrives while the hook runs
    assert agent.terminate() == 0
    body = fake_server.completes["c-slow"][1]
    assert body["status"] == "Succeeded" and "finished" in body["diagnostics"]["log_tail"]
    assert fake_server.heartbeats >= 2, "heartbeats are sent while a quiet hook runs"


def test_sigterm_kills_an_event_that_outlives_the_grace_and_reports_it_failed(
    tmp_path, start_agent, fake_server, make_revision, make_bundle
):
    started = tmp_path / "started"
    rev = make_revision(
        HEAD + "hooks:\n  BeforeInstall:\n    - location: s.sh\n",
        {"s.sh": f"#!/bin/sh\ntouch {started}\nsleep 60\n"},
    )
    fake_server.commands = [bundle_command(fake_server, make_bundle(rev), "BeforeInstall", "c-hung")]
    agent = start_agent(fake_server.url, shutdown_grace=0.5).start()
    assert wait_until(started.exists), agent.log()  # SIGTERM arrives while the hook runs
    began = time.monotonic()
    assert agent.terminate() == 0
    assert time.monotonic() - began < 8
    body = fake_server.completes["c-hung"][1]
    assert body["status"] == "Failed" and "shutting down" in body["diagnostics"]["message"]


def test_two_agents_with_their_own_configs_and_roots_run_side_by_side(tmp_path, fake_server):
    processes = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            processes.append(AgentProcess(tmp_path / name, fake_server.url, name=name).start())
        assert fake_server.wait_for(
            lambda: sum(r["path"] == "/agent/v1/poll/" for r in fake_server.requests) >= 2
        )
        for process in processes:
            assert process.terminate() == 0
            assert (process.root / "ongoing-deployment").is_dir()
    finally:
        for process in processes:
            process.stop()


def test_an_agent_idles_quietly_and_exits_0_on_sigterm(tmp_path, start_agent, fake_server):
    agent = start_agent(fake_server.url).start()
    assert fake_server.wait_for(lambda: any(r["path"] == "/agent/v1/poll/" for r in fake_server.requests))
    assert agent.terminate(timeout=5) == 0
    assert "Stopped" in agent.log()
    assert os.path.isdir(agent.root / "deployment-instructions")
