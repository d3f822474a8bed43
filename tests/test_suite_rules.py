"""Rules of the suite itself, checked by running pytest the way a developer or CI would.

CI means CI however the CI system spells it, so a live-stack test never skips there for want of
PostgreSQL; and the fault tests, which cannot share an xdist run, say so instead of vanishing from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from fleetdeck_testing import ci_flag, require

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("value", ["true", "1", "yes", "on", "ON", " True ", "woodpecker"])
def test_any_value_a_ci_system_sets_means_ci(value):
    assert ci_flag(value) is True


@pytest.mark.parametrize("value", [None, "", "0", "false", "False", "no", "off"])
def test_an_unset_empty_or_false_ci_is_not_ci(value):
    assert ci_flag(value) is False


def run_pytest(tmp_path: Path, *args: str, ci: str | None = None) -> subprocess.CompletedProcess:
    """pytest in a child process on a SQLite database of its own (never the running suite's database),
    outside any xdist worker of ours."""
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def redis_answers() -> bool:
    from django.conf import settings

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


@pytest.mark.parametrize("path", ["tests/e2e/test_cli_e2e.py", "tests/faults/test_fault_db_drop.py"])
def test_with_ci_on_the_live_stack_tests_fail_without_postgresql_instead_of_skipping(tmp_path, path):
    # What each stack needs before it looks at the database: Redis, and a redis-server binary to start.
    require(redis_answers(), "Redis (REDIS_URL)")
    require(
        shutil.which("redis-server") is not None or Path("/usr/bin/redis-server").exists(), "redis-server"
    )
    result = run_pytest(tmp_path, path, ci="on")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "PostgreSQL (DATABASE_URL) is required in CI but is not available" in output, output[-3000:]
    assert "skipped" not in output.splitlines()[-1], output[-3000:]


def test_the_fault_tests_under_xdist_fail_saying_how_to_run_them(tmp_path):
    # The folder, as `pytest -n 2 tests` collects it (where the fault tests used to vanish silently).
    result = run_pytest(tmp_path, "-n", "1", "tests/faults", "-k", "test_fault_db_drop")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "The fault tests do not run under pytest-xdist (-n)" in output, output[-3000:]
    assert "`pytest tests/faults`" in output
    assert output.splitlines()[-1].startswith("1 error"), output[-3000:]
