"""Hook scripts: process groups, timeouts, runas, environment, error codes, live output."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from fleetdeck_agent.executor import ExecutorOptions, execute
from fleetdeck_agent.paths import DeploymentRoot

HEAD = "version: 0.0\nos: linux\n"


def hooks(event, *scripts, timeout=None, runas=None):
    lines = [f"hooks:\n  {event}:\n"]
    for script in scripts:
        lines.append(f"    - location: {script}\n")
        if timeout:
            lines.append(f"      timeout: {timeout}\n")
        if runas:
            lines.append(f"      runas: {runas}\n")
    return HEAD + "".join(lines)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def diag(result):
    return result["diagnostics"]


def test_it_runs_a_script_and_reports_success(make_revision, run_events):
    rev = make_revision(hooks("BeforeInstall", "scripts/ok.sh"), {"scripts/ok.sh": "#!/bin/sh\necho fine\n"})
    result = run_events(rev, ["DownloadBundle", "BeforeInstall"])["BeforeInstall"]
    assert result["status"] == "Succeeded"
    assert diag(result)["error_code"] == "Success" and diag(result)["log_tail"].endswith(
        "fine\nBeforeInstall succeeded: 1 script(s) succeeded"
    )


def test_an_event_without_scripts_is_skipped(make_revision, run_events):
    rev = make_revision(hooks("BeforeInstall", "scripts/ok.sh"), {"scripts/ok.sh": "#!/bin/sh\n"})
    result = run_events(rev, ["DownloadBundle", "AfterInstall"])["AfterInstall"]
    assert result["status"] == "Skipped"


def test_a_timeout_kills_the_whole_process_group(make_revision, run_events, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    script = f"#!/bin/sh\nsleep 60 &\necho $! > {pidfile}\necho started\nsleep 60\n"
    rev = make_revision(hooks("AfterInstall", "scripts/slow.sh", timeout=1), {"scripts/slow.sh": script})
    began = time.monotonic()
    result = run_events(rev, ["DownloadBundle", "AfterInstall"])["AfterInstall"]
    assert time.monotonic() - began < 6
    assert result["status"] == "Failed"
    assert diag(result)["error_code"] == "ScriptTimedOut"
    assert (
        diag(result)["message"]
        == "Script at specified location: scripts/slow.sh failed to complete in 1 seconds"
    )
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)


def test_a_background_child_holding_stdout_does_not_hang_the_agent(make_revision, run_events, tmp_path):
    pidfile = tmp_path / "daemon.pid"
    script = f"#!/bin/sh\nsleep 30 &\necho $! > {pidfile}\necho launched\nexit 0\n"
    rev = make_revision(hooks("ApplicationStart", "scripts/start.sh"), {"scripts/start.sh": script})
    began = time.monotonic()
    try:
        result = run_events(rev, ["DownloadBundle", "ApplicationStart"])["ApplicationStart"]
        assert time.monotonic() - began < 5
        assert result["status"] == "Succeeded"
        assert "launched" in diag(result)["log_tail"]
    finally:
        if pidfile.exists():
            pid = int(pidfile.read_text())
            assert alive(pid), "a daemon started by ApplicationStart must keep running"
            os.kill(pid, signal.SIGKILL)


def test_it_sets_the_lifecycle_environment(make_revision, command, root, monkeypatch):
    monkeypatch.setenv("FLEETDECK_REGISTRATION_TOKEN", "secret-token")
    script = "#!/bin/sh\nenv | sort\n"
    rev = make_revision(hooks("AfterInstall", "scripts/env.sh"), {"scripts/env.sh": script})
    execute(command("DownloadBundle", rev), root)
    cmd = command("AfterInstall", rev)
    cmd["revision"]["env"] = {"BUNDLE_COMMIT": "abc123"}
    lines = []
    result = execute(cmd, root, lines.extend)
    assert result["status"] == "Succeeded"
    env = dict(line["text"].split("=", 1) for line in lines if line["script"] == "scripts/env.sh")
    assert env["LIFECYCLE_EVENT"] == "AfterInstall"
    assert env["DEPLOYMENT_ID"] == "d-TEST00001"
    assert env["APPLICATION_NAME"] == "shop"
    assert env["DEPLOYMENT_GROUP_NAME"] == "web"
    assert env["DEPLOYMENT_GROUP_ID"] == "dg-1"
    assert env["BUNDLE_COMMIT"] == "abc123"
    assert env["PATH"] == os.environ["PATH"]
    assert "FLEETDECK_REGISTRATION_TOKEN" not in env


def test_a_missing_script_is_script_missing_before_any_script_of_the_event_runs(
    make_revision, run_events, tmp_path
):
    marker = tmp_path / "ran"
    spec = HEAD + (
        "hooks:\n  BeforeInstall:\n    - location: scripts/first.sh\n    - location: scripts/gone.sh\n"
        "  ValidateService:\n    - location: scripts/also-gone.sh\n"
    )
    rev = make_revision(spec, {"scripts/first.sh": f"#!/bin/sh\ntouch {marker}\n"})
    result = run_events(rev, ["DownloadBundle", "BeforeInstall"])["BeforeInstall"]
    assert result["status"] == "Failed"
    assert diag(result)["error_code"] == "ScriptMissing"
    assert diag(result)["message"] == "Script does not exist at specified location: scripts/gone.sh"
    assert diag(result)["script_name"] == "scripts/gone.sh"
    assert not marker.exists()


def test_a_script_that_cannot_be_made_executable_is_script_not_executable(tmp_path):
    """CodeDeploy makes a script without its execute bit executable; where even that fails (here a
    read-only file system), the event fails with ScriptNotExecutable."""
    from fleetdeck_agent.appspec import Hook
    from fleetdeck_agent.hooks import EventLog, run_script
    from fleetdeck_testing import require

    readonly = tmp_path / "ro"
    readonly.mkdir()
    mounted = os.geteuid() == 0 and (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(readonly)], check=False
        ).returncode
        == 0
    )
    require(mounted, "mounting a small tmpfs (root)")
    try:
        (readonly / "plain").write_text("#!/bin/sh\necho ran\n")
        (readonly / "plain").chmod(0o644)
        subprocess.run(["mount", "-o", "remount,ro", str(readonly)], check=True)
        log = EventLog(str(tmp_path / "scripts.log"), None, "d-1", "AfterInstall")
        outcome = run_script(Hook("plain", timeout=10), str(readonly), {"PATH": os.environ["PATH"]}, log)
        log.close()
    finally:
        subprocess.run(["umount", "-l", str(readonly)], check=False)
    assert outcome.error_code == "ScriptNotExecutable"
    assert outcome.message.startswith("Unable to set script at specified location: plain as executable")


def test_a_non_zero_exit_is_script_failed_with_the_codedeploy_message(make_revision, run_events):
    script = "#!/bin/sh\necho about to fail\necho details >&2\nexit 3\n"
    rev = make_revision(
        hooks("AfterInstall", "scripts/fail.sh", "scripts/never.sh"),
        {"scripts/fail.sh": script, "scripts/never.sh": "#!/bin/sh\necho never\n"},
    )
    result = run_events(rev, ["DownloadBundle", "AfterInstall"])["AfterInstall"]
    user = pwd_name()
    assert result["status"] == "Failed"
    assert diag(result)["error_code"] == "ScriptFailed"
    assert diag(result)["message"] == (
        f"Script at specified location: scripts/fail.sh run as user {user} failed with exit code 3"
    )
    assert "about to fail" in diag(result)["log_tail"] and "details" in diag(result)["log_tail"]
    assert "never" not in diag(result)["log_tail"].replace("never.sh", "")


def pwd_name():
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def test_every_line_is_timestamped_into_scripts_log(make_revision, run_events, root):
    rev = make_revision(
        hooks("AfterInstall", "scripts/x.sh"), {"scripts/x.sh": "#!/bin/sh\necho out\necho err >&2\n"}
    )
    run_events(rev, ["DownloadBundle", "AfterInstall"])
    text = Path(root.scripts_log("dg-1", "d-TEST00001")).read_text()
    assert "[AfterInstall] [scripts/x.sh] [stdout] out" in text
    assert "[AfterInstall] [scripts/x.sh] [stderr] err" in text
    combined = Path(root.combined_log).read_text()
    assert "[d-TEST00001] [AfterInstall] [scripts/x.sh] [stdout] out" in combined
    first = next(line for line in text.splitlines() if line.endswith(" out"))
    assert first[:4].isdigit() and "T" in first.split(" ")[0]


def test_log_lines_are_streamed_while_the_script_runs(make_revision, run_events):
    script = "#!/bin/sh\necho first\nsleep 1\necho second\n"
    rev = make_revision(hooks("AfterInstall", "scripts/s.sh"), {"scripts/s.sh": script})
    received = []
    run_events(rev, ["DownloadBundle"])

    def on_lines(batch):
        received.extend((time.monotonic(), line["text"]) for line in batch)

    run_events(rev, ["AfterInstall"], on_lines=on_lines)
    done = time.monotonic()
    first = next(t for t, text in received if text == "first")
    second = next(t for t, text in received if text == "second")
    assert second - first > 0.7
    assert done - first > 0.7
    seqs = [text for _t, text in received]
    assert seqs.index("first") < seqs.index("second")


def test_the_log_tail_keeps_the_last_4_kb(make_revision, run_events):
    script = "#!/bin/sh\ni=0\nwhile [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done\nexit 1\n"
    rev = make_revision(hooks("AfterInstall", "scripts/many.sh"), {"scripts/many.sh": script})
    result = run_events(rev, ["DownloadBundle", "AfterInstall"])["AfterInstall"]
    tail = diag(result)["log_tail"]
    assert len(tail) <= 4096
    assert "line-1999" in tail and "line-0\n" not in tail


@pytest.fixture
def throwaway_user(make_user):
    """runas needs the agent to run as root, and useradd: `make_user` requires both (CI fails without)."""
    return make_user()


def test_runas_runs_the_script_as_that_user(throwaway_user):
    # tmp_path lives under a 0700 directory: the throwaway user needs a world-readable root.
    base = tempfile.mkdtemp(prefix="fleetdeck-runas-")
    try:
        os.chmod(base, 0o755)  # noqa: S103 - the runas user must reach the script
        rev = Path(base) / "rev"
        (rev / "scripts").mkdir(parents=True)
        (rev / "appspec.yml").write_text(hooks("AfterInstall", "scripts/who.sh", runas=throwaway_user))
        (rev / "scripts" / "who.sh").write_text(
            '#!/bin/sh\necho "user=$(id -un) home=$HOME env_user=$USER"\n'
        )
        (rev / "scripts" / "who.sh").chmod(0o755)
        root = DeploymentRoot(os.path.join(base, "root"))
        base_cmd = {
            "id": "c1",
            "deployment_id": "d-RUNAS",
            "deployment_group_id": "dg-runas",
            "application_name": "a",
            "deployment_group_name": "g",
            "revision": {"source": "local", "bundle_type": "directory", "url": str(rev)},
        }
        execute(dict(base_cmd, lifecycle_event="DownloadBundle"), root)
        result = execute(dict(base_cmd, lifecycle_event="AfterInstall"), root, None, ExecutorOptions())
        assert result["status"] == "Succeeded", result
        assert f"user={throwaway_user}" in result["diagnostics"]["log_tail"]
        assert f"env_user={throwaway_user}" in result["diagnostics"]["log_tail"]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_runas_an_unknown_user_fails_clearly(make_revision, run_events):
    rev = make_revision(
        hooks("AfterInstall", "scripts/x.sh", runas="no-such-user-xyz"), {"scripts/x.sh": "#!/bin/sh\n"}
    )
    result = run_events(rev, ["DownloadBundle", "AfterInstall"])["AfterInstall"]
    assert result["status"] == "Failed"
    assert "runas user no-such-user-xyz does not exist" in diag(result)["message"]
