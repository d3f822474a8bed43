"""Run a snippet in a fresh Python process with its own environment, as the server starts: settings are
read from the environment once, at import, so a test of a variable needs a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def server_env(var_dir: Path, **variables: str) -> dict[str, str]:
    """The test run's database and Redis, none of its other FLEETDECK_ variables, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDECK_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", FLEETDECK_VAR_DIR=str(var_dir), **variables)
    return env


def run(code: str, env: dict[str, str], *, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def settings_of(env: dict[str, str], *names: str) -> dict:
    """The named Django settings as the server would see them with `env`."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    return json.loads(run(code, env).stdout.strip().splitlines()[-1])


def responses(env: dict[str, str], requests: list[tuple[str, dict]]) -> list[dict]:
    """GET each (path, headers) through Django's whole middleware stack in a server configured by `env`.

    Only pages that need no database are asked for: the process shares the test run's database
    server but not its test database.
    """
    code = f"""
import json, django
django.setup()
from django.test import Client
out = []
for path, headers in {requests!r}:
    r = Client(raise_request_exception=False).get(path, headers=headers)
    out.append({{"status": r.status_code, "headers": dict(r.items()),
                 "cookies": {{k: dict(v.items()) | {{"secure": bool(v["secure"])}} for k, v in r.cookies.items()}}}})
print(json.dumps(out))
"""
    return json.loads(run(code, env).stdout.strip().splitlines()[-1])
