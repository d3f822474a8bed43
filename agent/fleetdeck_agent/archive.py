"""Reading revision archives (zip, tar, tgz) entry by entry, and the safety checks on each entry.

Every entry is checked as it streams past: absolute paths, `..` components, links that point outside
the archive, device files and fifos are refused, naming the entry, and the expanded size and the number
of entries are counted against their limits. A tar is never decompressed past `max_size` plus room for
its headers, and a zip's entries are counted in its central directory before zipfile parses it.
`bundle.py` builds inspection and extraction on these entries.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional

from fleetdeck_agent.appspec import APPSPEC_NAMES

DEFAULT_MAX_SIZE = 2 * 1024**3
BUNDLE_TYPES = ("zip", "tar", "tgz")
CHUNK = 1024 * 1024
MAX_APPSPEC_SIZE = 1024 * 1024
# What a tar stream may hold besides its files' data: headers (extended ones for long names
# included) per entry, and the end-of-archive padding.
HEADER_ROOM_PER_ENTRY = 4096
HEADER_ROOM = 1024 * 1024


class BundleError(Exception):
    """A bundle that cannot be used; the message names the offending entry."""

    def __init__(self, message: str, entry: Optional[str] = None):
        self.message = _printable(message)
        self.entry = entry
        super().__init__(self.message)


class BundleLimitError(BundleError):
    """The bundle passes a limit: `limit` is "size" (it expands too far) or "entries" (too many)."""

    def __init__(self, message: str, limit: str, entry: Optional[str] = None):
        super().__init__(message, entry)
        self.limit = limit


def _printable(text: str) -> str:
    """Entry names are the archive's bytes: show undecodable bytes and control characters escaped,
    so the message is valid UTF-8 for JSON answers and cannot move a terminal's cursor."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


# What reading a damaged, encrypted or oddly compressed archive raises, besides OSError. On some
# malformed headers the standard library's parsers raise ValueError (undecodable names) or TypeError.
DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    tarfile.TarError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    ValueError,
    TypeError,
)
try:  # an xz-compressed tar's damage; lzma is optional in some Python builds
    import lzma

    DAMAGED = (*DAMAGED, lzma.LZMAError)
except ImportError:  # pragma: no cover
    pass


@dataclass
class BundleInfo:
    bundle_type: str
    appspec_text: str
    appspec_name: str  # "appspec.yml" or "appspec.yaml"
    prefix: str  # "" or "topfolder/" that was (or would be) stripped


def detect_bundle_type(path: str) -> Optional[str]:
    """Tell the bundle type from content (magic bytes), not from the file name."""
    if os.path.isdir(path):
        return "directory"
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "tgz"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    try:
        if tarfile.is_tarfile(path):  # old v7 tars have no ustar magic
            return "tar"
    except OSError:
        pass
    return None


# -- entry model --------------------------------------------------------------------------------

FILE, DIRECTORY, SYMLINK, HARDLINK = "file", "directory", "symlink", "hardlink"


@dataclass
class Entry:
    name: str  # normalised relative posix path
    kind: str
    size: int
    mode: int
    link: str = ""
    open: Optional[Callable] = None  # returns a binary file object for FILE / SYMLINK (zip)


def _safe_name(raw: str) -> str:
    if "\0" in raw:  # a pax header can carry one; no file system takes it
        raise BundleError(f'Unsafe entry "{raw}" in bundle: names may not contain NUL bytes', raw)
    if raw.startswith(("/", "\\")) or (len(raw) > 1 and raw[1] == ":" and raw[0].isalpha()):
        raise BundleError(f'Unsafe entry "{raw}" in bundle: absolute paths are not allowed', raw)
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts or ".." in raw.replace("\\", "/").split("/"):
        raise BundleError(f'Unsafe entry "{raw}" in bundle: ".." path components are not allowed', raw)
    return "/".join(parts)


def _check_symlink(name: str, target: str) -> None:
    if not target or target.startswith("/") or "\0" in target:
        raise BundleError(
            f'Unsafe entry "{name}" in bundle: symlink to "{target}" points outside the archive', name
        )
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if resolved == ".." or resolved.startswith("../"):
        raise BundleError(
            f'Unsafe entry "{name}" in bundle: symlink to "{target}" points outside the archive', name
        )


class _Bounded:
    """A tar's decompressed stream that refuses to produce more than its entries can account for:
    their data (the tracker's limit) plus header room per entry seen. tarfile reads extended headers
    whole into memory, so without this a small archive could make us expand and hold gigabytes."""

    def __init__(self, fileobj, tracker: Tracker):
        self.fileobj, self.tracker, self.count = fileobj, tracker, 0

    def allowed(self) -> int:
        return self.tracker.max_size + HEADER_ROOM + HEADER_ROOM_PER_ENTRY * self.tracker.entries

    def read(self, size: int = -1) -> bytes:
        room = self.allowed() - self.count + 1
        data = self.fileobj.read(room if size is None or size < 0 or size > room else size)
        self.count += len(data)
        if self.count > self.allowed():
            raise BundleLimitError(
                f"The bundle expands past the {human_size(self.tracker.max_size)} limit", "size"
            )
        return data


def _decompressed(fh):
    """The archive's bytes as tar, by its own magic (what tarfile's "r|*" accepts)."""
    head = fh.read(6)
    fh.seek(0)
    if head[:2] == b"\x1f\x8b":
        import gzip

        return gzip.GzipFile(fileobj=fh, mode="rb")
    if head[:3] == b"BZh":
        import bz2

        return bz2.BZ2File(fh, mode="rb")
    if head == b"\xfd7zXZ\x00":
        import lzma

        return lzma.LZMAFile(fh, mode="rb")
    return fh


def _tar_entries(path: str, tracker: Tracker) -> Iterator[Entry]:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise BundleError(f"The bundle is not a readable tar archive: {exc}") from None
    try:
        tar = tarfile.open(fileobj=_Bounded(_decompressed(raw), tracker), mode="r|")  # noqa: SIM115
    except (*DAMAGED, OSError) as exc:
        raw.close()
        raise BundleError(f"The bundle is not a readable tar archive: {exc}") from None
    except BaseException:
        raw.close()
        raise
    with raw, tar:
        try:
            for member in tar:
                name = _safe_name(member.name)
                if member.issym():
                    _check_symlink(name, member.linkname)
                    yield Entry(name, SYMLINK, 0, 0o777, member.linkname)
                elif member.islnk():
                    try:
                        link = _safe_name(member.linkname)
                    except BundleError:
                        raise BundleError(
                            f'Unsafe entry "{member.name}" in bundle: hardlink to "{member.linkname}" points '
                            "outside the archive",
                            member.name,
                        ) from None
                    yield Entry(name, HARDLINK, 0, member.mode, link)
                elif member.isdir():
                    yield Entry(name, DIRECTORY, 0, member.mode)
                elif member.isreg():
                    yield Entry(
                        name, FILE, member.size, member.mode, open=lambda m=member: tar.extractfile(m)
                    )
                else:
                    raise BundleError(
                        f'Unsafe entry "{member.name}" in bundle: device files, fifos and other '
                        "special files are not allowed",
                        member.name,
                    )
        except (*DAMAGED, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise
            raise BundleError(f"The bundle is a damaged tar archive: {exc}") from None


def _zip_central_entries(path: str, most: int) -> int:
    """How many entries a zip's central directory holds, counted record by record (up to most + 1)
    before zipfile parses it into objects; 0 when it cannot be read (zipfile then says why)."""
    try:
        with open(path, "rb") as fh:
            end = zipfile._EndRecData(fh)  # the end record (zip64 too): where the directory is
            if not end:
                return 0
            size, offset = end[zipfile._ECD_SIZE], end[zipfile._ECD_OFFSET]
            start = end[zipfile._ECD_LOCATION] - size
            if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:
                start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
            fh.seek(max(start, offset))
            count = read = 0
            while read < size and count <= most:
                record = fh.read(46)
                if len(record) < 46 or record[:4] != b"PK\x01\x02":
                    break
                skip = sum(struct.unpack("<HHH", record[28:34]))  # name, extra field, comment
                fh.seek(skip, os.SEEK_CUR)
                read += 46 + skip
                count += 1
            return count
    except (OSError, AttributeError, struct.error, *DAMAGED):  # AttributeError: zipfile's internals moved
        return 0


def _zip_entries(path: str, tracker: Tracker) -> Iterator[Entry]:
    most = tracker.max_members
    if most is not None and _zip_central_entries(path, most) > most:
        raise tracker.too_many()
    try:
        archive = zipfile.ZipFile(path)
    except (*DAMAGED, OSError) as exc:
        raise BundleError(f"The bundle is not a readable zip archive: {exc}") from None
    with archive:
        for info in archive.infolist():
            name = _safe_name(info.filename)
            mode = (info.external_attr >> 16) & 0xFFFF
            if stat.S_ISLNK(mode):
                try:
                    with archive.open(info) as fh:
                        target = fh.read(4096).decode("utf-8", "replace")
                except (*DAMAGED, OSError) as exc:
                    raise damaged_error(info.filename, exc) from None
                _check_symlink(name, target)
                yield Entry(name, SYMLINK, 0, 0o777, target)
            elif mode and (
                stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
            ):
                raise BundleError(
                    f'Unsafe entry "{info.filename}" in bundle: device files, fifos and other '
                    "special files are not allowed",
                    info.filename,
                )
            elif info.filename.endswith("/"):  # ZipInfo.is_dir() fails on an empty name
                yield Entry(name, DIRECTORY, 0, (mode & 0o777) or 0o755)
            else:
                yield Entry(
                    name, FILE, info.file_size, (mode & 0o777) or 0o644, open=lambda i=info: archive.open(i)
                )


def read_entries(path: str, bundle_type: str, tracker: Tracker) -> Iterator[Entry]:
    return _zip_entries(path, tracker) if bundle_type == "zip" else _tar_entries(path, tracker)


def resolve_type(path: str, bundle_type: Optional[str]) -> str:
    if not os.path.exists(path):
        raise BundleError(f"The bundle {path} does not exist")
    detected = detect_bundle_type(path)
    if detected is None:
        raise BundleError(f"The bundle {path} is not a zip, tar or tgz archive")
    wanted = {"tar.gz": "tgz", "gz": "tgz", "dir": "directory"}.get(bundle_type or "", bundle_type)
    if wanted and wanted != detected:
        raise BundleError(f"The bundle was declared as {bundle_type} but its content is {detected}")
    return detected


class Tracker:
    """Collects what is needed to find the appspec and enforces the size limit while streaming."""

    def __init__(self, max_size: int, max_members: Optional[int] = None):
        self.max_size = max_size
        self.max_members = max_members
        self.total = 0
        self.entries = 0
        self.tops: Dict[str, bool] = {}
        self.appspecs: Dict[str, bytes] = {}

    def too_many(self) -> BundleLimitError:
        return BundleLimitError(
            f"The bundle has more than {self.max_members} entries (files, folders and links)", "entries"
        )

    def see(self, entry: Entry) -> None:
        self.total += entry.size
        self.entries += 1
        if self.max_members is not None and self.entries > self.max_members:
            raise self.too_many()
        if self.total > self.max_size:
            raise BundleLimitError(
                f'The bundle expands past the {human_size(self.max_size)} limit at entry "{entry.name}"',
                "size",
                entry.name,
            )
        if not entry.name:
            return
        top, _, rest = entry.name.partition("/")
        self.tops[top] = self.tops.get(top, False) or bool(rest) or entry.kind == DIRECTORY

    def wants(self, entry: Entry) -> bool:
        return (
            entry.kind == FILE
            and entry.name.count("/") <= 1
            and posixpath.basename(entry.name) in APPSPEC_NAMES
        )

    def result(self, bundle_type: str) -> BundleInfo:
        for prefix in self._prefixes():
            for appspec_name in APPSPEC_NAMES:
                data = self.appspecs.get(prefix + appspec_name)
                if data is not None:
                    return BundleInfo(bundle_type, data.decode("utf-8", "replace"), appspec_name, prefix)
        raise BundleError(
            "The bundle has no appspec.yml or appspec.yaml at its root or inside a single top-level folder"
        )

    def _prefixes(self) -> List[str]:
        prefixes = [""]
        if len(self.tops) == 1:
            top, is_dir = next(iter(self.tops.items()))
            if is_dir:
                prefixes.append(top + "/")
        return prefixes


def human_size(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.4g} {unit}"
    return f"{size} bytes"


def damaged_error(name: str, exc: BaseException) -> BundleError:
    return BundleError(f'The bundle entry "{name}" is damaged or cannot be read: {exc}', name)


def read_limited(fh, name: str) -> bytes:
    data = fh.read(MAX_APPSPEC_SIZE + 1)
    if len(data) > MAX_APPSPEC_SIZE:
        raise BundleError(f'The appspec "{name}" is larger than 1 MiB', name)
    return data
