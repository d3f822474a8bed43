"""The Install event: clean up the previous install, copy `files`, apply `permissions`.

Cleanup replays `<group>-cleanup` (the previous install's creations, in order) in reverse:
files are deleted and directories removed only when empty, so nothing the deployment did
not create is lost. DISALLOW therefore only trips on files some other party put there.

Every write, chown and delete goes through `safefs`, which never follows a symlink that someone other
than root controls: such a link in a destination path fails Install, naming it, before any file of
the new revision is written, and cleanup leaves whatever sits behind one.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional, Set, Tuple

from fleetdeck_agent import safefs
from fleetdeck_agent.appspec import AppSpec, FileMapping
from fleetdeck_agent.paths import DeploymentRoot, write_text_atomic
from fleetdeck_agent.permissions import PermissionsError, absolute
from fleetdeck_agent.permissions import apply as apply_permissions

Note = Callable[[str], None]
FILE_EXISTS = "The deployment failed because a specified file already exists at this location"


class InstallError(Exception):
    pass


@dataclass
class InstallResult:
    files: List[str] = field(default_factory=list)
    directories: List[str] = field(default_factory=list)
    retained: List[str] = field(default_factory=list)
    removed: List[str] = field(default_factory=list)


def cleanup_previous(root: DeploymentRoot, group_id: str, note: Note) -> List[str]:
    """Undo the previous install of this group; return the paths that were removed."""
    path = root.cleanup_file(group_id)
    try:
        with open(path, encoding="utf-8") as fh:
            entries = [line.rstrip("\n") for line in fh if line.strip()]
    except FileNotFoundError:
        return []
    removed, left = [], []
    for entry in reversed(entries):
        try:
            if safefs.remove(absolute(entry)):
                removed.append(entry)
        except safefs.UnsafePath as exc:
            left.append(f"{entry} ({exc.link} is a symlink root does not own)")
        except (OSError, ValueError):
            continue
    os.unlink(path)
    note(f"Removed {len(removed)} of {len(entries)} paths installed by the previous deployment")
    if left:
        note(f"Left {len(left)} paths behind a symlink instead of deleting through it: {', '.join(left[:5])}")
    return removed


class _Plan:
    """What to create, in order: {directory: None} and {file: (source, mapping)}, by destination path."""

    def __init__(self, archive: str):
        self.archive = archive
        self.real_archive = os.path.realpath(archive)
        self.directories: List[str] = []
        self._dir_set: Set[str] = set()
        self.targets: Dict[str, Tuple[str, FileMapping]] = {}

    def add_dir(self, path: str) -> None:
        if path in self.targets:
            raise InstallError(f"The files section maps both a file and a directory to {path}")
        if path not in self._dir_set:
            self._dir_set.add(path)
            self.directories.append(path)

    def add_file(self, path: str, source: str, mapping: FileMapping) -> None:
        if path in self._dir_set:
            raise InstallError(f"The files section maps both a file and a directory to {path}")
        if path in self.targets and self.targets[path][0] != source:
            other = self.targets[path][1]
            raise InstallError(
                "The deployment failed because the application specification file specifies two source files "
                f"for the same destination ({path}): {os.path.relpath(self.targets[path][0], self.archive)} "
                f"(line {other.line}) and {os.path.relpath(source, self.archive)} (line {mapping.line})"
            )
        self.targets[path] = (source, mapping)

    def inside(self, real: str) -> bool:
        return real == self.real_archive or real.startswith(self.real_archive + os.sep)

    def followed_dir(self, source: str, mapping: FileMapping, stack: Tuple[str, ...]) -> Optional[str]:
        """For a symlink in a copied source: its real directory when CodeDeploy would copy its contents
        (it leads to a directory inside the revision), None to copy it as a link."""
        real = os.path.realpath(source)
        rel = os.path.relpath(source, self.archive)
        if not self.inside(real):
            raise InstallError(
                f'The files source "{mapping.source}" (line {mapping.line}) holds the link {rel}, '
                "which leads outside the revision: links in a bundle must stay inside it"
            )
        if not os.path.isdir(real):
            return None
        if real in stack:
            raise InstallError(
                f'The files source "{mapping.source}" (line {mapping.line}) holds the link {rel}, '
                "which leads back to a folder it is in: copying it would loop forever"
            )
        return real

    def copy_dir(self, source: str, destination: str, mapping: FileMapping, stack: Tuple[str, ...]) -> None:
        self.add_dir(destination)
        with os.scandir(source) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            target = os.path.join(destination, entry.name)
            if entry.is_symlink():
                real = self.followed_dir(entry.path, mapping, stack)
                if real is not None:
                    self.copy_dir(entry.path, target, mapping, (*stack, real))
                    continue
            elif entry.is_dir():
                self.copy_dir(entry.path, target, mapping, (*stack, os.path.realpath(entry.path)))
                continue
            self.add_file(target, entry.path, mapping)


def _plan(archive: str, files: List[FileMapping], note: Note) -> _Plan:
    plan = _Plan(archive)
    for mapping in files:
        rel = mapping.source.strip("/")
        source = os.path.normpath(os.path.join(archive, rel)) if rel else archive
        if not plan.inside(os.path.realpath(source)):
            raise InstallError(
                f'The files source "{mapping.source}" (line {mapping.line}) is outside the revision'
            )
        if not os.path.lexists(source):
            raise InstallError(
                f'The files source "{mapping.source}" (line {mapping.line}) does not exist in the revision'
            )
        destination = absolute(mapping.destination)
        if not mapping.destination.startswith("/"):
            note(
                f"Warning: the files entry at line {mapping.line} has the relative destination "
                f'"{mapping.destination}": installing to {destination} (relative to /, as CodeDeploy does)'
            )
        is_link = os.path.islink(source)
        real = plan.followed_dir(source, mapping, ()) if is_link else os.path.realpath(source)
        if real is not None and os.path.isdir(source):
            plan.copy_dir(source, destination, mapping, (real,))
        else:
            plan.add_file(os.path.join(destination, os.path.basename(source)), source, mapping)
    return plan


def _check_paths(plan: _Plan, behavior: str) -> None:
    """Before anything is written: no foreign symlink on the way, nothing in the way DISALLOW forbids."""
    parents = set(plan.directories) | {os.path.dirname(target) for target in plan.targets}
    for directory in sorted(parents):
        try:
            os.close(safefs.open_dir(directory))
        except safefs.UnsafePath as exc:
            raise InstallError(
                f"Cannot install to {directory}: {exc.strerror}. Replace the link with a directory, "
                "or have root own it and the directory that holds it"
            ) from None
        except NotADirectoryError as exc:
            if behavior != "OVERWRITE" or exc.filename not in plan.directories:
                raise InstallError(f"{FILE_EXISTS}: {exc.filename}") from None
        except FileNotFoundError:
            continue  # created on the way
    if behavior == "DISALLOW":
        for target in plan.targets:
            try:
                if safefs.lstat(target) is not None:
                    raise InstallError(f"{FILE_EXISTS}: {target}")
            except safefs.UnsafePath as exc:
                raise InstallError(f"Cannot install to {target}: {exc.strerror}") from None


def install(
    archive: str,
    spec: AppSpec,
    root: DeploymentRoot,
    group_id: str,
    deployment_id: str,
    file_exists_behavior: Optional[str],
    note: Note,
) -> InstallResult:
    behavior = (spec.file_exists_behavior or file_exists_behavior or "DISALLOW").upper()
    result = InstallResult()
    result.removed = cleanup_previous(root, group_id, note)
    plan = _plan(archive, spec.files, note)
    _check_paths(plan, behavior)

    created: List[str] = []  # creation order, replayed in reverse by the next cleanup
    kinds: Dict[str, str] = {}
    try:
        for target in plan.directories:
            existing = safefs.lstat(target)
            if existing is not None and not stat.S_ISDIR(existing.st_mode):
                safefs.remove(target)  # OVERWRITE: a file where the bundle has a folder
            _make_dirs(target, created, kinds)
        for target, (source, _mapping) in plan.targets.items():
            _make_dirs(os.path.dirname(target), created, kinds)
            existing = safefs.lstat(target)
            if existing is not None and behavior == "RETAIN":
                result.retained.append(target)
                continue
            safefs.copy_in(source, target, replace=existing is not None)
            created.append(target)
            kinds[target] = "file"
            result.files.append(target)
    except safefs.UnsafePath as exc:
        raise InstallError(f"Install stopped at {exc.link}: {exc.strerror}") from None
    except OSError as exc:
        raise InstallError(
            f"Install failed while writing {exc.filename or ''}: {exc.strerror or exc}"
        ) from None
    finally:
        if created:
            write_text_atomic(root.cleanup_file(group_id), "".join(path + "\n" for path in created))
        result.directories = [path for path in created if kinds.get(path) == "directory"]
        record = {
            "deployment_id": deployment_id,
            "installed_at": datetime.now(timezone.utc).isoformat(),
            "file_exists_behavior": behavior,
            "files": result.files,
            "directories": result.directories,
            "retained": result.retained,
        }
        write_text_atomic(root.install_file(group_id), json.dumps(record, indent=1))

    note(
        f"Installed {len(result.files)} files and created {len(result.directories)} directories "
        f"(file_exists_behavior {behavior}, {len(result.retained)} existing files retained)"
    )
    try:
        apply_permissions(spec.permissions, [(path, kinds[path]) for path in created], note)
    except PermissionsError as exc:
        raise InstallError(str(exc)) from None
    return result


def _make_dirs(path: str, created: List[str], kinds: Dict[str, str]) -> None:
    made: List[str] = []
    try:
        os.close(safefs.open_dir(path, made))
    finally:
        created.extend(made)
        kinds.update(dict.fromkeys(made, "directory"))
