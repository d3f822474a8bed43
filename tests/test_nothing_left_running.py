"""The embedded Redis belongs to the process that started it, and ends with it.

Without REDIS_URL the suite (like `make demo`) starts a `redis-server` of its own. A test run on a
fresh clone used to leave that server running long after pytest had exited, its parent gone. Here a
small pytest run in a child process takes the embedded path, once on its own and once under xdist as
`make test` runs it, and afterwards no `redis-server` of that run is left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def redis_servers_of(var_dir: Path) -> dict[int, str]:
    """Live redis-server processes whose command line names `var_dir` (the embedded one's socket does)."""
    marker = str(var_dir).encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = next(
                (line for line in (entry / "status").read_text().splitlines() if line.startswith("State:")),
                "",
            )
        except OSError:
            continue
        if b"redis-server" in cmdline and marker in cmdline and "zombie" not in state:
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def test_the_configured_redis_answers():
    """Run by the tests below in a child without REDIS_URL, where it proves the embedded Redis was
    started for the session; in the suite itself it checks the configured one."""
    assert redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5).ping()
    if os.environ.get("FLEETDECK_EXPECT_EMBEDDED_REDIS"):
        assert settings.EMBEDDED_REDIS
        assert settings.REDIS_URL.startswith("unix://" + str(settings.VAR_DIR))


@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "1"]], ids=["one-process", "xdist"])
def test_a_run_without_redis_url_leaves_no_redis_server(tmp_path, mode):
    var_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("PYTEST_")}
    env.update(
        FLEETDECK_VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        FLEETDECK_EXPECT_EMBEDDED_REDIS="1",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *mode, f"{__file__}::test_the_configured_redis_answers"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "1 passed" in output, output[-3000:]
    assert (var_dir / "redis.log").exists(), "the run did not start the embedded Redis"
    deadline = time.monotonic() + 10
    while (left := redis_servers_of(var_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:  # do not leave them to the next run either
        os.kill(pid, 15)
    assert not left, f"redis-server still running after the pytest run ended: {left}"


def test_a_manage_py_command_that_needs_redis_starts_it_and_stops_it(tmp_path):
    var_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("PYTEST_")}
    env.update(FLEETDECK_VAR_DIR=str(var_dir), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    probe = "from django.core.cache import cache; cache.set('probe', 'ok'); print(cache.get('probe'))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "ok"  # the cache (Redis) answered inside the command
    deadline = time.monotonic() + 10
    while (left := redis_servers_of(var_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"redis-server still running after the command ended: {left}"


def test_settings_alone_start_no_redis(tmp_path):
    var_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("PYTEST_")}
    env.update(FLEETDECK_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="config.settings")
    probe = "import django; django.setup(); from django.conf import settings; print(settings.REDIS_URL)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"unix://{var_dir / 'redis.sock'}?db=0"
    assert not (var_dir / "redis.log").exists()
    assert not redis_servers_of(var_dir)
