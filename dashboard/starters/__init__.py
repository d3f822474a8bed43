"""Starter bundles offered by the setup wizard, one directory per project template.

Each is a real CodeDeploy-style revision: appspec.yml, hook scripts that install, start, stop and
validate the service, and a README. The wizard serves them as .tgz archives built on the fly.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Template:
    key: str
    label: str
    description: str
    # The group's tag filter the wizard suggests, and the directory of the starter bundle (None: blank).
    role: str
    directory: str | None

    @property
    def path(self) -> Path | None:
        return ROOT / self.directory if self.directory else None


TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            "python-systemd",
            "Python web service under systemd",
            "gunicorn in a virtualenv, run by a systemd unit on port 8000.",
            "web",
            "python-systemd",
        ),
        Template(
            "static-nginx",
            "Static site served by nginx",
            "HTML files copied to /var/www, served by nginx on port 80.",
            "web",
            "static-nginx",
        ),
        Template(
            "nodejs",
            "Node.js service",
            "node server.js run by a systemd unit on port 3000.",
            "web",
            "nodejs",
        ),
        Template("blank", "Blank", "No starter bundle: bring your own appspec.yml.", "web", None),
    )
}


def files(template: Template) -> list[Path]:
    """The bundle's files, sorted, relative to the bundle root."""
    if template.path is None:
        return []
    return sorted(p.relative_to(template.path) for p in template.path.rglob("*") if p.is_file())


def build_tgz(template: Template) -> bytes:
    """A gzip'd tar of the starter, with appspec.yml at its root and the hook scripts executable."""
    if template.path is None:
        raise ValueError(f"The {template.label} template has no starter bundle.")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for relative in files(template):
            data = (template.path / relative).read_bytes()
            info = tarfile.TarInfo(relative.as_posix())
            info.size = len(data)
            info.mode = 0o755 if relative.suffix == ".sh" else 0o644
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
