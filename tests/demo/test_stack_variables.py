"""`make demo`'s own variables (FLEETDECK_PORT, FLEETDECK_HOST, FLEETDECK_WEB_WORKERS) are parsed as
strictly as the server's settings: a bad value stops the start with a line naming the variable, never
a traceback, and nothing is started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("FLEETDECK_WEB_WORKERS", "four", "FLEETDECK_WEB_WORKERS='four' is not an integer"),
        ("FLEETDECK_WEB_WORKERS", "0", "FLEETDECK_WEB_WORKERS=0 must be at least 1"),
        ("FLEETDECK_PORT", "80a", "FLEETDECK_PORT='80a' is not an integer"),
        ("FLEETDECK_PORT", "70000", "FLEETDECK_PORT=70000 must be at most 65535"),
    ],
)
def test_a_bad_value_stops_the_start_with_a_line_naming_it(tmp_path, variable, value, says):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        FLEETDECK_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:1/0",
        **{variable: value},
    )
    done = subprocess.run(
        [sys.executable, "-m", "config.stack"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "logs").exists(), "nothing was started"
