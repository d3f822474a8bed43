"""The appspec's `permissions`, applied the way the CodeDeploy agent applies them.

An entry reaches only what this deployment's Install copied (files) or created (directories) *under*
its object; the object itself only when it is a file Install copied. Directories that were already on
the host, the object directory among them, keep their owner and mode. `pattern` and `except` are
CodeDeploy's simple globs (`*` is the only wildcard) on the path relative to the object; `except`
therefore only ever matches the object's direct children, and so does any pattern other than `**`.
ACLs are set whole, the mask taken from the group bits (see `acl.py`).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import stat
from typing import Callable, Dict, List, Tuple

from fleetdeck_agent import safefs
from fleetdeck_agent.acl import AclError, full_acl
from fleetdeck_agent.appspec import Permission

Note = Callable[[str], None]
Installed = List[Tuple[str, str]]  # (path, "file" | "directory"), in creation order


class PermissionsError(Exception):
    """A permissions entry that cannot be applied; Install reports it as its failure."""


def absolute(path: str) -> str:
    """Appspec paths are resolved against `/`, the CodeDeploy agent's working directory."""
    return os.path.normpath(os.path.join("/", path))


_GLOBS: Dict[str, re.Pattern[str]] = {}


def simple_glob(name: str, pattern: str) -> bool:
    """CodeDeploy's glob: `*` matches any run of characters, everything else only itself, and a name
    with a slash in it never matches."""
    if "/" in name:
        return False
    regex = _GLOBS.get(pattern)
    if regex is None:
        regex = re.compile("".join(".*" if char == "*" else re.escape(char) for char in pattern), re.DOTALL)
        _GLOBS[pattern] = regex
    return regex.fullmatch(name) is not None


def matches(perm: Permission, path: str, kind: str) -> bool:
    obj = absolute(perm.object)
    if path == obj:
        return kind == "file" and "file" in perm.type
    prefix = obj.rstrip("/") + "/"
    if not path.startswith(prefix):
        return False
    rel = path[len(prefix) :]
    if perm.pattern != "**" and not simple_glob(rel, perm.pattern):
        return False
    if any(simple_glob(rel, glob) for glob in perm.except_):
        return False
    return kind in perm.type


def select_targets(permissions: List[Permission], installed: Installed) -> List[Tuple[Permission, Installed]]:
    """Match permission entries to installed paths; a path claimed by two entries is an error."""
    owner: Dict[str, Permission] = {}
    plan = []
    for perm in permissions:
        paths = []
        for path, kind in installed:
            if matches(perm, path, kind):
                if path in owner:
                    raise PermissionsError(
                        f"The deployment failed because the permissions setting for ({path}) is specified "
                        f"more than once in the application specification file (lines {owner[path].line} and "
                        f"{perm.line})."
                    )
                owner[path] = perm
                paths.append((path, kind))
        plan.append((perm, paths))
    return plan


def _ids(perm: Permission) -> Tuple[int, int]:
    try:
        uid = pwd.getpwnam(perm.owner).pw_uid if perm.owner else -1
        gid = grp.getgrnam(perm.group).gr_gid if perm.group else -1
    except KeyError:
        raise PermissionsError(
            f"The permissions entry for {perm.object} (line {perm.line}) names an unknown "
            f"owner or group ({perm.owner or ''}:{perm.group or ''})"
        ) from None
    return uid, gid


def apply(permissions: List[Permission], installed: Installed, note: Note) -> None:
    if not permissions:
        return
    selinux_noted = False
    for perm, paths in select_targets(permissions, installed):
        uid, gid = _ids(perm)
        if perm.acls and paths and not shutil.which("setfacl"):
            raise PermissionsError(
                f"Cannot apply acls to {perm.object} (line {perm.line}): setfacl is not installed "
                "on this host (install the acl package)"
            )
        use_chcon = bool(perm.context) and shutil.which("chcon") and os.path.exists("/sys/fs/selinux/enforce")
        if perm.context and not use_chcon and not selinux_noted:
            note(f"Ignoring the SELinux context for {perm.object}: SELinux is not enabled on this host")
            selinux_noted = True
        for path, kind in paths:
            try:
                _apply_one(perm, path, kind, uid, gid, bool(use_chcon))
            except safefs.UnsafePath as exc:
                raise PermissionsError(f"Cannot set permissions on {path}: {exc.strerror}") from None
            except OSError as exc:
                raise PermissionsError(f"Cannot set permissions on {path}: {exc.strerror or exc}") from None
        if paths:
            note(f"Applied permissions from line {perm.line} ({perm.object}) to {len(paths)} paths")


def _apply_one(perm: Permission, path: str, kind: str, uid: int, gid: int, use_chcon: bool) -> None:
    # The owner first: on Linux a chown clears setuid and setgid bits, which `mode` may set.
    if uid != -1 or gid != -1:
        safefs.chown(path, uid, gid)
    if perm.mode is None and not perm.acls and not use_chcon:
        return
    fd = safefs.open_nofollow(path)
    if fd is None:  # an installed symlink: its target is not ours to change
        return
    try:
        if perm.mode is not None:
            os.fchmod(fd, perm.mode_int)  # type: ignore[arg-type]
        if perm.acls:
            try:
                entries = full_acl(perm.acls, stat.S_IMODE(os.fstat(fd).st_mode), kind == "directory")
            except AclError as exc:
                raise PermissionsError(f"Cannot set the acls of {path} (line {perm.line}): {exc}") from None
            _run(path, fd, ["setfacl", "--set", ",".join(entries)])
        if use_chcon:
            args = ["chcon"]
            for key, flag in (("user", "-u"), ("type", "-t"), ("range", "-l")):
                if perm.context.get(key):  # type: ignore[union-attr]
                    args += [flag, perm.context[key]]  # type: ignore[index]
            _run(path, fd, args)
    finally:
        os.close(fd)


def _run(path: str, fd: int, args: List[str]) -> None:
    proc = safefs.run_on(path, fd, args)
    if proc.returncode != 0:
        detail = proc.stderr.strip().replace(f"/proc/self/fd/{fd}", path)
        raise PermissionsError(f"{args[0]} failed on {path}: {detail}")
