"""Inspect and safely extract revision bundles (zip, tar, tgz, or a directory in local mode).

Public API (the server imports this to validate uploads):

    detect_bundle_type(path) -> "zip" | "tar" | "tgz" | "directory" | None
    inspect_bundle(path, bundle_type=None, max_size=DEFAULT_MAX_SIZE, max_members=None) -> BundleInfo
        raises BundleError (BundleLimitError past max_size or max_members)
    extract_bundle(path, dest, bundle_type=None, max_size=DEFAULT_MAX_SIZE) -> BundleInfo

Both walk every entry once, streaming, and refuse (naming the entry) absolute paths, `..`
components, links that point outside the archive, device files and fifos, and archives whose
expanded size passes `max_size`. A tar is never decompressed past `max_size` plus room for its
headers (a small archive cannot make us expand, or hold, gigabytes), and a zip's entries are counted
in its central directory before it is parsed. If the appspec sits inside a single top-level folder,
that folder is the revision root (`BundleInfo.prefix`) and extraction strips it.

Reading an archive entry by entry, with each entry's safety checks, is `archive.py`'s job; this module
inspects bundles and writes their entries to disk.
"""

from __future__ import annotations

import errno
import os
import shutil
from typing import Dict, List, Optional, Tuple

from fleetdeck_agent.appspec import APPSPEC_NAMES
from fleetdeck_agent.archive import (
    BUNDLE_TYPES,
    CHUNK,
    DAMAGED,
    DEFAULT_MAX_SIZE,
    DIRECTORY,
    HARDLINK,
    MAX_APPSPEC_SIZE,
    SYMLINK,
    BundleError,
    BundleInfo,
    BundleLimitError,
    Entry,
    Tracker,
    damaged_error,
    detect_bundle_type,
    human_size,
    read_entries,
    read_limited,
    resolve_type,
)

__all__ = [
    "BUNDLE_TYPES",
    "CHUNK",
    "DEFAULT_MAX_SIZE",
    "BundleError",
    "BundleInfo",
    "BundleLimitError",
    "bundle_members",
    "detect_bundle_type",
    "extract_bundle",
    "inspect_bundle",
    "no_space_error",
]


def no_space_error(path: str, root: str) -> BundleError:
    return BundleError(f"No space left on device while writing {path}: free space under {root} and retry")


def inspect_bundle(
    path: str,
    bundle_type: Optional[str] = None,
    max_size: int = DEFAULT_MAX_SIZE,
    max_members: Optional[int] = None,
) -> BundleInfo:
    """Validate every entry of a bundle without extracting it and return its appspec."""
    kind = resolve_type(path, bundle_type)
    if kind == "directory":
        return _inspect_directory(path)
    tracker = Tracker(max_size, max_members)
    for entry in read_entries(path, kind, tracker):
        tracker.see(entry)
        if tracker.wants(entry):
            try:
                with entry.open() as fh:
                    tracker.appspecs[entry.name] = read_limited(fh, entry.name)
            except (*DAMAGED, OSError) as exc:
                raise damaged_error(entry.name, exc) from None
    return tracker.result(kind)


def bundle_members(path: str, bundle_type: Optional[str] = None) -> Dict[str, Tuple[str, int, str]]:
    """Every entry of an archive, by its normalised name: (kind, mode, link target). `fleetdeck push`
    uses it to check a ready archive's hook scripts as it checks a folder's."""
    kind = resolve_type(path, bundle_type)
    tracker = Tracker(DEFAULT_MAX_SIZE)
    return {
        entry.name: (entry.kind, entry.mode, entry.link)
        for entry in read_entries(path, kind, tracker)
        if entry.name
    }


def _inspect_directory(path: str) -> BundleInfo:
    tracker = Tracker(DEFAULT_MAX_SIZE * 1024)
    for name in os.listdir(path):
        full = os.path.join(path, name)
        tracker.tops[name] = os.path.isdir(full) and not os.path.islink(full)
        if tracker.tops[name]:
            for appspec_name in APPSPEC_NAMES:
                candidate = os.path.join(full, appspec_name)
                if os.path.isfile(candidate):
                    with open(candidate, "rb") as fh:
                        tracker.appspecs[f"{name}/{appspec_name}"] = read_limited(fh, candidate)
        elif name in APPSPEC_NAMES and os.path.isfile(full):
            with open(full, "rb") as fh:
                tracker.appspecs[name] = read_limited(fh, full)
    return tracker.result("directory")


def extract_bundle(
    path: str, dest: str, bundle_type: Optional[str] = None, max_size: int = DEFAULT_MAX_SIZE
) -> BundleInfo:
    """Extract into `dest` (replaced if present), stripping a single top-level appspec folder."""
    kind = resolve_type(path, bundle_type)
    dest = os.path.abspath(dest)
    staging = dest + ".partial"
    for old in (staging, dest):
        if os.path.lexists(old):
            shutil.rmtree(old)
    os.makedirs(staging)
    try:
        if kind == "directory":
            info = _inspect_directory(path)
            shutil.copytree(path, os.path.join(staging, "d"), symlinks=True)
            staging_root = os.path.join(staging, "d")
        else:
            info = _extract_archive(path, kind, staging, max_size)
            staging_root = staging
        source = os.path.join(staging_root, info.prefix) if info.prefix else staging_root
        os.rename(source, dest)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise no_space_error(getattr(exc, "filename", None) or dest, os.path.dirname(dest)) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return info


def _extract_archive(path: str, kind: str, staging: str, max_size: int) -> BundleInfo:
    tracker = Tracker(max_size)
    real_root = os.path.realpath(staging)
    written = 0
    links: List[Tuple[str, str]] = []

    def inside(target: str, entry: Entry) -> str:
        real = os.path.realpath(target)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise BundleError(
                f'Unsafe entry "{entry.name}" in bundle: it would be written through a link '
                "outside the archive",
                entry.name,
            )
        return real

    entry: Optional[Entry] = None
    try:
        for entry in read_entries(path, kind, tracker):
            tracker.see(entry)
            if not entry.name:
                continue
            target = os.path.join(staging, entry.name)
            parent = os.path.dirname(target)
            inside(parent, entry)
            os.makedirs(parent, exist_ok=True)
            if entry.kind == DIRECTORY:
                if os.path.lexists(target) and not os.path.isdir(target):
                    os.unlink(target)
                os.makedirs(target, exist_ok=True)
                os.chmod(target, (entry.mode & 0o777) | 0o700)
                continue
            if os.path.lexists(target):
                if os.path.isdir(target) and not os.path.islink(target):
                    raise BundleError(f'Bundle entry "{entry.name}" replaces a directory', entry.name)
                os.unlink(target)
            if entry.kind == SYMLINK:
                os.symlink(entry.link, target)
                links.append((entry.name, target))
            elif entry.kind == HARDLINK:
                source = os.path.join(staging, entry.link)
                if not os.path.isfile(source):
                    raise BundleError(
                        f'Unsafe entry "{entry.name}" in bundle: hardlink to "{entry.link}" does not '
                        "point at an earlier file of the archive",
                        entry.name,
                    )
                os.link(inside(source, entry), target)
            else:
                data: Optional[bytes] = b"" if tracker.wants(entry) else None
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW  # novermin: bit flags
                fd = os.open(target, flags, (entry.mode & 0o777) | 0o600)
                try:
                    with os.fdopen(fd, "wb") as out, entry.open() as src:
                        while True:
                            chunk = src.read(CHUNK)
                            if not chunk:
                                break
                            written += len(chunk)
                            if written > max_size:
                                raise BundleError(
                                    f"The bundle expands past the {human_size(max_size)} limit at entry "
                                    f'"{entry.name}"',
                                    entry.name,
                                )
                            out.write(chunk)
                            if data is not None and len(data) <= MAX_APPSPEC_SIZE:
                                data += chunk
                    if data is not None:
                        tracker.appspecs[entry.name] = data
                except OSError as exc:
                    if exc.errno == errno.ENOSPC:
                        raise no_space_error(target, os.path.dirname(staging)) from None
                    raise
                except DAMAGED as exc:
                    raise damaged_error(entry.name, exc) from None
    except OSError as exc:  # the archive's own shape clashes (a file where it needs a folder), or a bad read
        if entry is None or exc.errno == errno.ENOSPC:
            raise
        raise BundleError(
            f'The bundle entry "{entry.name}" cannot be extracted: {exc.strerror or exc}', entry.name
        ) from None
    for name, link in links:  # a later entry may have changed where an earlier link resolves
        inside(link, Entry(name, SYMLINK, 0, 0))
    return tracker.result(kind)
