"""Helpers for the API tests: instances, fleets and bundle archives."""

from __future__ import annotations

import io
import tarfile
import zipfile

from deployments.models import Instance
from projects.models import Project

# The slug of the project the `project` fixture creates; helpers put new rows in it by default.
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


def make_instance(name: str, project: Project | None = None, **tags: str) -> Instance:
    project = project or Project.objects.get(slug=PROJECT)
    instance = Instance(name=name, project=project, tags=tags or {"role": "web"})
    instance.rotate_credential()
    instance.save()
    return instance


def make_fleet(count: int, **tags: str) -> list[Instance]:
    return [make_instance(f"web-{number:02d}", **tags) for number in range(1, count + 1)]


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
