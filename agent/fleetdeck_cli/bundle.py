"""`push`'s local half: pack a folder into a tgz and refuse it, before any upload, if the server or
the hosts would.

The archive is checked with the agent's own `inspect_bundle` and `parse_appspec`, the code the server
runs on upload and the hosts run on extraction; on top of that, a folder's hook scripts and `files`
sources must exist (and scripts be executable), since a deployment would only fail on them later.
"""

from __future__ import annotations

import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from typing import List, Optional

from fleetdeck_agent.appspec import AppSpec, AppSpecError, parse_appspec
from fleetdeck_agent.bundle import BUNDLE_TYPES, BundleError, detect_bundle_type, inspect_bundle
from fleetdeck_cli.errors import USAGE, CliError


@dataclass
class Bundle:
    path: str  # the archive to upload
    bundle_type: str
    appspec: AppSpec
    files: int  # regular files packed (0 for an archive given as is)
    temporary: bool

    def discard(self) -> None:
        if self.temporary and os.path.exists(self.path):
            os.unlink(self.path)


def prepare(source: str, *, ignore_hidden: bool = False) -> Bundle:
    """Pack (a folder) or take (an archive) and check it; raise CliError(USAGE) naming file and line."""
    if not os.path.exists(source):
        raise CliError(f"--source {source}: no such file or directory", USAGE)
    if os.path.isdir(source):
        path, count = pack(source, ignore_hidden=ignore_hidden)
        try:
            spec = check(path, source)
        except BaseException:
            os.unlink(path)
            raise
        return Bundle(path, "tgz", spec, count, temporary=True)
    kind = detect_bundle_type(source)
    if kind not in BUNDLE_TYPES:
        raise CliError(f"--source {source} is neither a folder nor a zip, tar or tgz archive", USAGE)
    return Bundle(source, kind, check(source, None), 0, temporary=False)


def pack(folder: str, *, ignore_hidden: bool = False) -> tuple[str, int]:
    """Write folder's contents (paths relative to it, modes kept, symlinks as links) to a temp .tgz."""
    fd, path = tempfile.mkstemp(prefix="fleetdeck-push-", suffix=".tgz")
    os.close(fd)
    count = 0
    try:
        with tarfile.open(path, "w:gz") as tar:
            for top, dirs, files in os.walk(folder):
                dirs.sort()
                if ignore_hidden:
                    dirs[:] = [d for d in dirs if not d.startswith(".")]
                rel_top = os.path.relpath(top, folder)
                for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
                    if ignore_hidden and name.startswith("."):
                        continue
                    full = os.path.join(top, name)
                    arcname = name if rel_top == "." else f"{rel_top}/{name}".replace(os.sep, "/")
                    if not (os.path.islink(full) or stat.S_ISREG(os.stat(full).st_mode)):
                        raise CliError(f"{full} is not a regular file, folder or symlink; remove it", USAGE)
                    tar.add(full, arcname=arcname, recursive=False, filter=_normalise)
                    count += 1
                for name in dirs:
                    full = os.path.join(top, name)
                    if not os.path.islink(full):
                        arcname = name if rel_top == "." else f"{rel_top}/{name}".replace(os.sep, "/")
                        tar.add(full, arcname=arcname, recursive=False, filter=_normalise)
    except BaseException:
        os.unlink(path)
        raise
    return path, count


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # The packer's user means nothing on the hosts; appspec `permissions:` set owners there.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def check(archive: str, folder: Optional[str]) -> AppSpec:
    try:
        info = inspect_bundle(archive)
    except BundleError as exc:
        raise CliError(f"{folder or archive}: {exc.message}", USAGE) from None
    shown = os.path.join(folder or archive, info.prefix + info.appspec_name)
    try:
        spec = parse_appspec(info.appspec_text, shown)
    except AppSpecError as exc:
        raise CliError(f"Invalid AppSpec: {exc}", USAGE) from None
    if folder is not None:
        problems = referenced_file_problems(spec, os.path.join(folder, info.prefix), shown)
        if problems:
            raise CliError("Invalid AppSpec: " + "\n  ".join(problems), USAGE)
    return spec


def referenced_file_problems(spec: AppSpec, root: str, shown: str) -> List[str]:
    """Hook scripts and `files` sources that the hosts would not find, each with its appspec line."""
    problems = []

    def where(line: Optional[int]) -> str:
        return shown if line is None else f"{shown}, line {line}"

    def inside(relative: str) -> Optional[str]:
        full = os.path.normpath(os.path.join(root, relative.lstrip("/")))
        return (
            full
            if full == os.path.normpath(root) or full.startswith(os.path.normpath(root) + os.sep)
            else None
        )

    for event, hooks in spec.hooks.items():
        for hook in hooks:
            full = inside(hook.location)
            if full is None or not os.path.isfile(full):
                problems.append(
                    f"{where(hook.line)}: {event} script {hook.location} does not exist in the bundle"
                )
            elif not os.access(full, os.X_OK):
                problems.append(
                    f"{where(hook.line)}: {event} script {hook.location} is not executable (chmod +x {full})"
                )
    for mapping in spec.files:
        if mapping.source in ("/", ""):
            continue
        full = inside(mapping.source)
        if full is None or not os.path.exists(full):
            problems.append(
                f"{where(mapping.line)}: files source {mapping.source} does not exist in the bundle"
            )
    return problems
