"""Every environment variable is parsed once, in config/settings.py, and the apps read the result.

Each case starts a fresh Python process, as a server start does: settings are parsed at start-up, so a
value that stops the server can only be seen there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What the child prints: the parsed settings and the timeouts the integration clients really use.
PROBE = """
import json, django
django.setup()
from django.conf import settings
from integrations.github.client import GitHubClient
from integrations.jira.client import JiraClient
from integrations.models import GitHubConnection, JiraConnection
github = GitHubClient(GitHubConnection(api_url="https://api.github.com", repository="a/b"))
jira = JiraClient(JiraConnection(server_url="https://jira.example.com", token="t"))
print(json.dumps({
    "setting": settings.FLEETDECK_INTEGRATIONS_TIMEOUT,
    "interactive": settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT,
    "email": settings.EMAIL_TIMEOUT,
    "github": github.timeout,
    "jira": jira.jira._session.timeout,
}))
"""


def run_probe(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        FLEETDECK_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        # Parsing settings must not need a Redis; the URL is only stored.
        REDIS_URL="redis://127.0.0.1:1/0",
        **variables,
    )
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_fractional_integrations_timeout_is_used_as_given(tmp_path):
    result = run_probe(tmp_path, FLEETDECK_INTEGRATIONS_TIMEOUT="2.5")
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["setting"] == 2.5
    assert seen["email"] == 2.5  # the SMTP timeout follows the same variable
    assert seen["github"] == 2.5
    assert seen["jira"] == 2.5
    assert seen["interactive"] == 5.0  # its own variable, untouched


def test_the_interactive_timeout_is_its_own_variable(tmp_path):
    result = run_probe(tmp_path, FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT="0.75")
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["interactive"] == 0.75
    assert seen["setting"] == 10.0


def test_a_timeout_that_is_not_a_number_stops_the_start_naming_the_variable(tmp_path):
    result = run_probe(tmp_path, FLEETDECK_INTEGRATIONS_TIMEOUT="ten")
    assert result.returncode != 0
    assert "FLEETDECK_INTEGRATIONS_TIMEOUT='ten' is not a number" in result.stderr


def test_a_timeout_below_the_minimum_stops_the_start(tmp_path):
    result = run_probe(tmp_path, FLEETDECK_INTEGRATIONS_TIMEOUT="0")
    assert result.returncode != 0
    assert "FLEETDECK_INTEGRATIONS_TIMEOUT=0.0 must be at least 0.1" in result.stderr


TRAFFIC_PROBE = """
import json, django
django.setup()
from django.conf import settings
from deployments import traffic
print(json.dumps({"setting": settings.TRAFFIC_COMMANDS, "used": traffic.configured_commands()}))
"""


def test_traffic_commands_are_read_at_start_with_file_variants(tmp_path):
    secret_path = tmp_path / "cmd"
    secret_path.write_text("/opt/lb/switch --pool b\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FLEETDECK_TRAFFIC_COMMAND_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        FLEETDECK_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:1/0",
        FLEETDECK_TRAFFIC_COMMAND_HAPROXY="/usr/local/bin/lb-switch",
        FLEETDECK_TRAFFIC_COMMAND_NGINX_FILE=str(secret_path),
        FLEETDECK_TRAFFIC_COMMAND_EMPTY=" ",
    )
    done = subprocess.run(
        [sys.executable, "-c", TRAFFIC_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    expected = {"haproxy": "/usr/local/bin/lb-switch", "nginx": "/opt/lb/switch --pool b"}
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"setting": expected, "used": expected}
