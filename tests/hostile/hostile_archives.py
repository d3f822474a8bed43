"""Build zip, tar and tgz archives from (kind, name, link target, data) entries, hostile ones included."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile

APPSPEC = b"version: 0.0\nos: linux\n"


def tar_bytes(items, compress: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, link, data in items:
            info = tarfile.TarInfo(name)
            info.mode = 0o644
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "chr": tarfile.CHRTYPE,
                "blk": tarfile.BLKTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[kind]
            info.linkname = link
            tar.addfile(info)
    return buffer.getvalue()


def zip_bytes(items) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for kind, name, link, data in items:
            name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace") or "_"
            file_type = {
                "file": stat.S_IFREG,
                "hardlink": stat.S_IFREG,
                "dir": stat.S_IFDIR,
                "symlink": stat.S_IFLNK,
                "chr": stat.S_IFCHR,
                "blk": stat.S_IFBLK,
                "fifo": stat.S_IFIFO,
            }[kind]
            info = zipfile.ZipInfo(name + ("/" if kind == "dir" and not name.endswith("/") else ""))
            info.external_attr = (file_type | 0o644) << 16
            payload = link.encode("utf-8", "surrogateescape") if kind == "symlink" else data
            archive.writestr(info, payload)
    return buffer.getvalue()


def build(kind: str, items, with_appspec: bool) -> bytes:
    items = [*items, ("file", "appspec.yml", "", APPSPEC)] if with_appspec else list(items)
    return zip_bytes(items) if kind == "zip" else tar_bytes(items, compress=kind == "tgz")
