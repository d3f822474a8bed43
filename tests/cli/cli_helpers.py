"""Helpers for the CLI tests: run `fleetdeck` in-process and build bundle folders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fleetdeck_cli.cli import main

APPSPEC = """\
version: 0.0
os: linux
files:
  - source: app
    destination: /opt/shop
hooks:
  ApplicationStart:
    - location: scripts/start.sh
      timeout: 60
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    def __init__(self, capsys):
        self.capsys = capsys
        self.last: Result | None = None

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        self.last = Result(code, captured.out, captured.err)
        return self.last


def bundle_folder(root: Path, appspec: str = APPSPEC) -> Path:
    """A folder `push` accepts: appspec, an executable hook script and an app file."""
    (root / "scripts").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "appspec.yml").write_text(appspec)
    start = root / "scripts" / "start.sh"
    start.write_text("#!/bin/sh\necho started\n")
    os.chmod(start, 0o755)  # noqa: S103 - a hook script must be executable
    (root / "app" / "index.html").write_text("<h1>shop</h1>\n")
    return root


def make_revision(application):
    from deployments.models import Revision

    return Revision.objects.create(
        application=application, bundle_type="tgz", sha256="a" * 64, appspec=APPSPEC
    )


def make_fleet(project, count: int = 2) -> list:
    from integration_helpers import make_instance

    return [make_instance(project, f"web-{n}") for n in range(1, count + 1)]
