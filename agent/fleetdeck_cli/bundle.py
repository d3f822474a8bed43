"""`push`'s local half: pack a folder into a tgz and refuse it, before any upload, if the server or
the hosts would.

The archive is checked with the agent's own `inspect_bundle` and `parse_appspec`, the code the server
runs on upload and the hosts run on extraction; on top of that, the hook scripts and `files` sources of a
folder or a ready archive must exist, since a deployment would only fail on them later. A script without
its execute bit is a warning: the agent makes it executable, as CodeDeploy does.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from fleetdeck_agent.appspec import AppSpec, AppSpecError, parse_appspec
from fleetdeck_agent.bundle import (
    BUNDLE_TYPES,
    BundleError,
    bundle_members,
    detect_bundle_type,
    inspect_bundle,
)
from fleetdeck_cli.errors import USAGE, CliError


@dataclass
class Bundle:
    path: str  # the archive to upload
    bundle_type: str
    appspec: AppSpec
    files: int  # regular files packed (0 for an archive given as is)
    temporary: bool
    warnings: List[str] = field(default_factory=list)

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
            spec, warnings = check(path, source)
        except BaseException:
            os.unlink(path)
            raise
        return Bundle(path, "tgz", spec, count, temporary=True, warnings=warnings)
    kind = detect_bundle_type(source)
    if kind not in BUNDLE_TYPES:
        raise CliError(f"--source {source} is neither a folder nor a zip, tar or tgz archive", USAGE)
    spec, warnings = check(source, None)
    return Bundle(source, kind, spec, 0, temporary=False, warnings=warnings)


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


def check(archive: str, folder: Optional[str]) -> Tuple[AppSpec, List[str]]:
    """The archive's appspec and the warnings to print; a problem raises CliError(USAGE)."""
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
        tree: _Tree = _FolderTree(os.path.join(folder, info.prefix))
    else:
        try:
            tree = _ArchiveTree(bundle_members(archive), info.prefix, archive)
        except BundleError as exc:
            raise CliError(f"{archive}: {exc.message}", USAGE) from None
    problems, warnings = referenced_file_problems(spec, tree, shown)
    if problems:
        raise CliError("Invalid AppSpec: " + "\n  ".join(problems), USAGE)
    return spec, warnings


class _Tree:
    """Where the hosts will look for a path of the revision: "file", "directory" or None."""

    def kind(self, relative: str) -> Optional[str]:
        raise NotImplementedError

    def executable(self, relative: str) -> bool:
        raise NotImplementedError

    def chmod_hint(self, relative: str) -> str:
        raise NotImplementedError


class _FolderTree(_Tree):
    def __init__(self, root: str):
        # Absolute, so `-s .`, `-s ./` and `-s sub/dir` compare like an absolute source does.
        self.root = os.path.normpath(os.path.abspath(root))

    def _full(self, relative: str) -> Optional[str]:
        full = os.path.normpath(os.path.join(self.root, relative.lstrip("/")))
        return full if full == self.root or full.startswith(self.root + os.sep) else None

    def kind(self, relative: str) -> Optional[str]:
        full = self._full(relative)
        if full is None or not os.path.exists(full):
            return None
        return "directory" if os.path.isdir(full) else "file"

    def executable(self, relative: str) -> bool:
        full = self._full(relative)
        return full is not None and os.access(full, os.X_OK)

    def chmod_hint(self, relative: str) -> str:
        return f"chmod +x {self._full(relative)}"


class _ArchiveTree(_Tree):
    def __init__(self, members: Dict[str, Tuple[str, int, str]], prefix: str, archive: str):
        self.members = members
        self.prefix = prefix
        self.archive = archive
        self.folders = {posixpath.dirname(name) for name in members}

    def _entry(self, relative: str) -> Tuple[Optional[str], Optional[Tuple[str, int, str]]]:
        name = posixpath.normpath(self.prefix + relative.lstrip("/"))
        for _hop in range(8):  # follow links inside the archive, as the hosts' file system will
            if name == ".." or name.startswith("../"):
                return None, None
            entry = self.members.get(name)
            if entry is None or entry[0] != "symlink":
                return name, entry
            name = posixpath.normpath(posixpath.join(posixpath.dirname(name), entry[2]))
        return None, None

    def kind(self, relative: str) -> Optional[str]:
        name, entry = self._entry(relative)
        if name is None:
            return None
        if (entry is not None and entry[0] == "directory") or any(
            folder == name or folder.startswith(name + "/") for folder in self.folders
        ):
            return "directory"
        return "file" if entry is not None else None

    def executable(self, relative: str) -> bool:
        _name, entry = self._entry(relative)
        return entry is not None and bool(entry[1] & 0o111)

    def chmod_hint(self, relative: str) -> str:
        return f"chmod +x {relative} before packing {self.archive}"


def referenced_file_problems(spec: AppSpec, tree: _Tree, shown: str) -> Tuple[List[str], List[str]]:
    """Hook scripts and `files` sources that the hosts would not find (problems), and hook scripts
    without their execute bit (warnings: the agent makes them executable, as CodeDeploy does)."""
    problems: List[str] = []
    warnings: List[str] = []

    def where(line: Optional[int]) -> str:
        return shown if line is None else f"{shown}, line {line}"

    for event, hooks in spec.hooks.items():
        for hook in hooks:
            if tree.kind(hook.location) != "file":
                problems.append(
                    f"{where(hook.line)}: {event} script {hook.location} does not exist in the bundle"
                )
            elif not tree.executable(hook.location):
                warnings.append(
                    f"{where(hook.line)}: {event} script {hook.location} is not executable; the agent "
                    f"will make it executable before running it, as CodeDeploy does "
                    f"({tree.chmod_hint(hook.location)} to keep this out of the deployment log)"
                )
    for mapping in spec.files:
        if mapping.source in ("/", ""):
            continue
        if tree.kind(mapping.source) is None:
            problems.append(
                f"{where(mapping.line)}: files source {mapping.source} does not exist in the bundle"
            )
    return problems, warnings
