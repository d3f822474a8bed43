"""Helpers for the API tests: bundle archives (objects come from factories)."""

from __future__ import annotations

import io
import tarfile
import zipfile

# The slug of the project the `project` fixture creates.
PROJECT = "team"

APPSPEC = """\
version: 0.0
os: linux
files:
  - source: app
    destination: /opt/shop
hooks:
  ApplicationStart:
    - location: hooks/start.sh
      timeout: 60
"""
START_SCRIPT = "#!/bin/sh\necho started\n"


def bundle_files(appspec: str | None = APPSPEC) -> dict[str, bytes]:
    files = {"hooks/start.sh": START_SCRIPT.encode(), "app/index.html": b"<h1>shop</h1>\n"}
    if appspec is not None:
        files["appspec.yml"] = appspec.encode()
    return files


def build_archive(path, kind: str, files: dict[str, bytes]):
    """Write a zip, tar or tgz archive holding `files` and return its path."""
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        return path
    mode = "w:gz" if kind == "tgz" else "w"
    with tarfile.open(path, mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            archive.addfile(info, io.BytesIO(data))
    return path
