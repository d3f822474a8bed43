"""File operations for a root agent that never write, chown or delete through someone else's symlink.

After `permissions`, the application's own user often owns the install tree. That user can swap a
directory for a symlink to /etc; a root agent that then follows paths by name writes, chowns or deletes
there. So every operation here walks the path from `/` one component at a time, with `O_NOFOLLOW` and
directory file descriptors, and acts on the last component through its parent's descriptor:

- a symlink in the path is followed only when the link and the directory holding it are both owned by
  root (or by the agent's own user, for local mode): an operator's `/var/www -> /srv/www` keeps working;
- any other symlink raises `UnsafePath`, naming the path up to and including the link;
- the last component itself is never followed: a symlink there is replaced or removed as a link.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from typing import List, Optional, Tuple

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC  # novermin: bit flags
_NOFOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # novermin: bit flags
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC  # novermin: bit flags
MAX_LINKS = 40
CHUNK = 1024 * 1024


class UnsafePath(OSError):
    """A symlink that someone other than root controls sits in a path the agent would write through."""

    def __init__(self, link: str):
        self.link = link
        super().__init__(
            errno.EPERM,
            f"{link} is a symlink that root does not own (or it sits in a directory that root does not "
            "own): the agent does not write, chown or delete through it",
        )


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def _components(path: str) -> List[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def open_dir(path: str, created: Optional[List[str]] = None) -> int:
    """A descriptor of directory `path`, reached safely. With `created`, missing directories are made
    (mode 0777 less the umask) and appended to it by their path as given."""
    if not path.startswith("/"):
        raise ValueError(f"{path} is not an absolute path")
    fd = os.open("/", _DIR)
    # Each pending component carries the path it stands for, or None when it comes from a link target.
    pending: List[Tuple[str, Optional[str]]] = []
    logical = ""
    for part in _components(path):
        logical += "/" + part
        pending.append((part, logical))
    pending.reverse()
    links = 0
    try:
        while pending:
            name, shown = pending.pop()
            try:
                next_fd = os.open(name, _DIR, dir_fd=fd)
            except FileNotFoundError:
                if created is None or shown is None:
                    raise FileNotFoundError(errno.ENOENT, "No such directory", shown or path) from None
                os.mkdir(name, 0o777, dir_fd=fd)
                created.append(shown)
                next_fd = os.open(name, _DIR, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                where = shown or os.path.join(path, name)
                if not stat.S_ISLNK(info.st_mode):
                    raise NotADirectoryError(errno.ENOTDIR, "Not a directory", where) from None
                if not (_trusted_owner(info.st_uid) and _trusted_owner(os.fstat(fd).st_uid)):
                    raise UnsafePath(where) from None
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, "Too many levels of symbolic links", where) from None
                target = os.readlink(name, dir_fd=fd)
                pending.extend((part, None) for part in reversed(_components(target)))
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", _DIR)
                continue
            os.close(fd)
            fd = next_fd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _split(path: str) -> Tuple[str, str]:
    parent, name = os.path.split(os.path.normpath(path))
    if not name or name == "..":
        raise ValueError(f"{path} names no file")
    return parent, name


def lstat(path: str) -> Optional[os.stat_result]:
    """The path's own status (a symlink is not followed), or None when it or its parent is missing."""
    parent, name = _split(path)
    try:
        fd = open_dir(parent)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(fd)


def remove(path: str) -> bool:
    """Delete a file or symlink, or an empty directory; True if something was removed. A directory
    that is not empty is left (someone else's files are in it)."""
    parent, name = _split(path)
    try:
        fd = open_dir(parent)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            os.rmdir(name, dir_fd=fd)
        else:
            os.unlink(name, dir_fd=fd)
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise
    finally:
        os.close(fd)


def copy_in(source: str, path: str, replace: bool) -> None:
    """Copy `source` (a file or a symlink, copied as a link) to `path`, keeping its mode and times.
    With `replace`, a file or symlink already at `path` is removed first (never followed)."""
    parent, name = _split(path)
    fd = open_dir(parent)
    try:
        if replace:
            try:
                if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise IsADirectoryError(errno.EISDIR, "Cannot overwrite a directory with a file", path)
                os.unlink(name, dir_fd=fd)
            except FileNotFoundError:
                pass
        info = os.lstat(source)
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(source), name, dir_fd=fd)
            return
        out = os.open(name, _NEW_FILE, 0o600, dir_fd=fd)
        try:
            with open(source, "rb") as src:
                while True:
                    chunk = src.read(CHUNK)
                    if not chunk:
                        break
                    _write_all(out, chunk)
            os.fchmod(out, stat.S_IMODE(info.st_mode))
            os.utime(out, ns=(info.st_atime_ns, info.st_mtime_ns))
        finally:
            os.close(out)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def chown(path: str, uid: int, gid: int) -> None:
    """Change the owner of the path itself (a symlink's own owner, never its target's)."""
    parent, name = _split(path)
    fd = open_dir(parent)
    try:
        os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
    finally:
        os.close(fd)


def open_nofollow(path: str) -> Optional[int]:
    """A read descriptor of the path itself, or None when it is a symlink (whose target is not ours)."""
    parent, name = _split(path)
    fd = open_dir(parent)
    try:
        return os.open(name, _NOFOLLOW, dir_fd=fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    finally:
        os.close(fd)


def run_on(path: str, fd: int, args: List[str]) -> subprocess.CompletedProcess:
    """Run a tool (setfacl, chcon) on the file behind an open descriptor: it gets /proc/self/fd/N, which
    names that very file, so nothing is looked up by path again."""
    return subprocess.run(
        [*args, f"/proc/self/fd/{fd}"], pass_fds=(fd,), capture_output=True, text=True, check=False
    )
