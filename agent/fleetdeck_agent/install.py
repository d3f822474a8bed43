"""The Install event: clean up the previous install, copy `files`, apply `permissions`.

Cleanup replays `<group>-cleanup` (the previous install's creations, in order) in reverse:
files are deleted and directories removed only when empty, so nothing the deployment did
not create is lost. DISALLOW therefore only trips on files some other party put there.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional, Tuple

from fleetdeck_agent.appspec import AppSpec, FileMapping, Permission
from fleetdeck_agent.paths import DeploymentRoot, write_text_atomic

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
    removed = []
    for entry in reversed(entries):
        try:
            if os.path.isdir(entry) and not os.path.islink(entry):
                os.rmdir(entry)  # only when empty: other people's files survive
            elif os.path.lexists(entry):
                os.unlink(entry)
            else:
                continue
            removed.append(entry)
        except OSError:
            continue
    os.unlink(path)
    note(f"Removed {len(removed)} of {len(entries)} paths installed by the previous deployment")
    return removed


def _plan(archive: str, files: List[FileMapping]) -> Tuple[List[str], Dict[str, Tuple[str, FileMapping]]]:
    """Return (directories, {target file: (source, mapping)}) in copy order."""
    directories: List[str] = []
    dir_set = set()
    targets: Dict[str, Tuple[str, FileMapping]] = {}
    real_archive = os.path.realpath(archive)

    def add_dir(path: str) -> None:
        if path in targets:
            raise InstallError(f"The files section maps both a file and a directory to {path}")
        if path not in dir_set:
            dir_set.add(path)
            directories.append(path)

    def add_file(path: str, source: str, mapping: FileMapping) -> None:
        if path in dir_set:
            raise InstallError(f"The files section maps both a file and a directory to {path}")
        if path in targets and targets[path][0] != source:
            other = targets[path][1]
            raise InstallError(
                "The deployment failed because the application specification file specifies two source files "
                f"for the same destination ({path}): {os.path.relpath(targets[path][0], archive)} "
                f"(line {other.line}) and {os.path.relpath(source, archive)} (line {mapping.line})"
            )
        targets[path] = (source, mapping)

    for mapping in files:
        rel = mapping.source.strip("/")
        source = os.path.normpath(os.path.join(archive, rel)) if rel else archive
        real = os.path.realpath(source)
        if real != real_archive and not real.startswith(real_archive + os.sep):
            raise InstallError(
                f'The files source "{mapping.source}" (line {mapping.line}) is outside the revision'
            )
        if not os.path.lexists(source):
            raise InstallError(
                f'The files source "{mapping.source}" (line {mapping.line}) does not exist in the revision'
            )
        destination = os.path.normpath(mapping.destination)
        if os.path.isdir(source) and not os.path.islink(source):
            add_dir(destination)
            for dirpath, dirnames, filenames in os.walk(source):
                dirnames.sort()
                rel_dir = os.path.relpath(dirpath, source)
                base = destination if rel_dir == "." else os.path.join(destination, rel_dir)
                for name in list(dirnames):
                    if os.path.islink(os.path.join(dirpath, name)):
                        filenames.append(name)
                        dirnames.remove(name)
                    else:
                        add_dir(os.path.join(base, name))
                for name in sorted(filenames):
                    add_file(os.path.join(base, name), os.path.join(dirpath, name), mapping)
        else:
            add_file(os.path.join(destination, os.path.basename(source)), source, mapping)
    return directories, targets


def _make_dirs(path: str, created: List[str]) -> None:
    missing = []
    current = path
    while not os.path.isdir(current):
        if os.path.lexists(current):
            raise InstallError(f"Cannot create directory {path}: {current} exists and is not a directory")
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        os.mkdir(directory)
        created.append(directory)


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
    directories, targets = _plan(archive, spec.files)

    for target in directories:
        if os.path.lexists(target) and not os.path.isdir(target) and behavior != "OVERWRITE":
            raise InstallError(f"{FILE_EXISTS}: {target}")
    if behavior == "DISALLOW":
        for target in targets:
            if os.path.lexists(target):
                raise InstallError(f"{FILE_EXISTS}: {target}")

    created: List[str] = []  # creation order, replayed in reverse by the next cleanup
    try:
        for target in directories:
            if os.path.lexists(target) and not os.path.isdir(target):
                os.unlink(target)
            _make_dirs(target, created)
        for target, (source, _mapping) in targets.items():
            _make_dirs(os.path.dirname(target), created)
            if os.path.lexists(target):
                if behavior == "RETAIN":
                    result.retained.append(target)
                    continue
                if os.path.isdir(target) and not os.path.islink(target):
                    raise InstallError(f"Cannot overwrite directory {target} with a file")
                os.unlink(target)
            shutil.copy2(source, target, follow_symlinks=False)
            created.append(target)
            result.files.append(target)
    except OSError as exc:
        raise InstallError(
            f"Install failed while writing {exc.filename or ''}: {exc.strerror or exc}"
        ) from None
    finally:
        if created:
            write_text_atomic(root.cleanup_file(group_id), "".join(path + "\n" for path in created))
        result.directories = [path for path in created if path not in set(result.files)]
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
    installed = (
        result.files + result.directories + [d for d in directories if d not in set(result.directories)]
    )
    apply_permissions(spec.permissions, installed, note)
    return result


def _matches(perm: Permission, path: str) -> bool:
    obj = os.path.normpath(perm.object)
    if path == obj:
        pass
    elif path.startswith(obj.rstrip("/") + "/"):
        rel = path[len(obj.rstrip("/")) + 1 :]
        if perm.pattern != "**" and ("/" in rel or not fnmatch.fnmatchcase(rel, perm.pattern)):
            return False
        name = os.path.basename(rel)
        if any(fnmatch.fnmatchcase(rel, glob) or fnmatch.fnmatchcase(name, glob) for glob in perm.except_):
            return False
    else:
        return False
    is_dir = os.path.isdir(path) and not os.path.islink(path)
    return ("directory" if is_dir else "file") in perm.type


def select_targets(permissions: List[Permission], installed: List[str]) -> List[Tuple[Permission, List[str]]]:
    """Match permission entries to installed paths; a path claimed twice is an error."""
    owner: Dict[str, Permission] = {}
    plan = []
    for perm in permissions:
        paths = []
        for path in installed:
            if _matches(perm, path):
                if path in owner:
                    raise InstallError(
                        f"The deployment failed because the permissions setting for ({path}) is specified "
                        f"more than once in the application specification file (lines {owner[path].line} and "
                        f"{perm.line})."
                    )
                owner[path] = perm
                paths.append(path)
        plan.append((perm, paths))
    return plan


def apply_permissions(permissions: List[Permission], installed: List[str], note: Note) -> None:
    if not permissions:
        return
    import grp
    import pwd

    selinux_noted = False
    for perm, paths in select_targets(permissions, installed):
        uid = gid = -1
        try:
            if perm.owner:
                uid = pwd.getpwnam(perm.owner).pw_uid
            if perm.group:
                gid = grp.getgrnam(perm.group).gr_gid
        except KeyError:
            raise InstallError(
                f"The permissions entry for {perm.object} (line {perm.line}) names an unknown "
                f"owner or group ({perm.owner or ''}:{perm.group or ''})"
            ) from None
        if perm.acls and paths and not shutil.which("setfacl"):
            raise InstallError(
                f"Cannot apply acls to {perm.object} (line {perm.line}): setfacl is not installed "
                "on this host (install the acl package)"
            )
        use_chcon = bool(perm.context) and shutil.which("chcon") and os.path.exists("/sys/fs/selinux/enforce")
        if perm.context and not use_chcon and not selinux_noted:
            note(f"Ignoring the SELinux context for {perm.object}: SELinux is not enabled on this host")
            selinux_noted = True
        for path in paths:
            try:
                if uid != -1 or gid != -1:
                    os.lchown(path, uid, gid)
                if perm.mode is not None and not os.path.islink(path):
                    os.chmod(path, perm.mode_int)  # type: ignore[arg-type]
            except OSError as exc:
                raise InstallError(f"Cannot set permissions on {path}: {exc.strerror}") from None
            if perm.acls:
                _run(["setfacl", "-m", ",".join(perm.acls), path], path)
            if use_chcon:
                args = ["chcon"]
                for key, flag in (("user", "-u"), ("type", "-t"), ("range", "-l")):
                    if perm.context.get(key):  # type: ignore[union-attr]
                        args += [flag, perm.context[key]]  # type: ignore[index]
                _run([*args, path], path)
        if paths:
            note(f"Applied permissions from line {perm.line} ({perm.object}) to {len(paths)} paths")


def _run(args: List[str], path: str) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise InstallError(f"{args[0]} failed on {path}: {proc.stderr.strip()}")
