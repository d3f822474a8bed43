"""Helpers for the CLI tests: run `fleetdeck` in-process and build bundle folders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from api_helpers import APPSPEC, bundle_files
from fleetdeck_cli.cli import main


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
    """The API tests' bundle as a folder `push` accepts: appspec, executable hook script, app file."""
    for name, data in bundle_files(appspec).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if name.endswith(".sh"):
            os.chmod(path, 0o755)  # noqa: S103 - a hook script must be executable
    return root
