"""What `make demo` sets up: a login, a project with one application and a HalfAtATime group,
four local agents and a sample application whose hooks run a small HTTP service on each host.

Everything lives under `<FLEETDECK_VAR_DIR>/demo/`:

    login                      the demo password (0600), so every run prints the same one
    agents/<name>/agent.yml    the agent's config and credential, written by `fleetdeck-agent register`
    agents/<name>/root/        its deployment root
    agents/<name>/demo-host.env, app/, app.pid, app.log   the sample service of that host

`seed.py` writes the database rows (the `demo_setup` command runs it on its own), `sample.py`
builds the bundle and manages the hosts' folders; `config/stack.py --demo` starts the processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

USERNAME = "demo"
PROJECT_SLUG = "demo"
PROJECT_NAME = "Demo"
APPLICATION = "demo-web"
GROUP = "web"
# Registration token tags: every demo agent is env=demo, role=web; each adds its own az.
TOKEN_TAGS = {"env": "demo", "role": "web"}
# The group selects env=demo AND role=web (a tag set: AND across its lists).
TAG_SET = [
    [{"key": "env", "value": "demo", "type": "KEY_AND_VALUE"}],
    [{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}],
]
DEFAULT_PORT_BASE = 8081


class DemoError(Exception):
    """Something in the way of the demo; the message says what to do."""


@dataclass(frozen=True)
class DemoHost:
    name: str
    az: str
    port: int
    home: Path

    @property
    def tags(self) -> dict[str, str]:
        return {**TOKEN_TAGS, "az": self.az}

    @property
    def config(self) -> Path:
        return self.home / "agent.yml"

    @property
    def root(self) -> Path:
        return self.home / "root"

    @property
    def pidfile(self) -> Path:
        return self.home / "app.pid"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def demo_dir(var_dir: Path) -> Path:
    return Path(var_dir) / "demo"


def port_base() -> int:
    raw = os.environ.get("FLEETDECK_DEMO_PORT_BASE", "")
    if not raw:
        return DEFAULT_PORT_BASE
    try:
        value = int(raw)
    except ValueError:
        raise DemoError(f"FLEETDECK_DEMO_PORT_BASE must be a port number (got {raw!r})") from None
    if not 1024 <= value <= 65532:
        raise DemoError(f"FLEETDECK_DEMO_PORT_BASE must be between 1024 and 65532 (got {value})")
    return value


def hosts(var_dir: Path, base: int | None = None) -> list[DemoHost]:
    """The four demo hosts, two per availability zone; host i serves the sample app on base + i."""
    base = port_base() if base is None else base
    agents = demo_dir(var_dir) / "agents"
    return [
        DemoHost(name=f"demo-web-{i + 1}", az="ab"[i % 2], port=base + i, home=agents / f"demo-web-{i + 1}")
        for i in range(4)
    ]
