"""Plain helpers shared by the agent tests (fixtures live in conftest.py)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

SIMPLE_APPSPEC = "version: 0.0\nos: linux\n"


def write_tree(base: Path, files: dict) -> Path:
    """Create files from {relative path: text}; paths under scripts/ or ending in .sh are executable."""
    base.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        if rel.endswith(".sh"):
            path.chmod(0o755)
    return base


def archive_tree(src: Path, dest: Path, kind: str, top: str = "") -> Path:
    """Pack a directory as zip, tar or tgz, optionally under a single top-level folder."""
    entries = sorted(src.rglob("*"))
    if kind == "zip":
        with zipfile.ZipFile(dest, "w") as zf:
            for path in entries:
                name = top + str(path.relative_to(src))
                if path.is_dir():
                    zf.write(path, name + "/")
                else:
                    info = zipfile.ZipInfo(name)
                    info.external_attr = (0o100000 | (path.stat().st_mode & 0o777)) << 16
                    zf.writestr(info, path.read_bytes())
    else:
        with tarfile.open(dest, "w:gz" if kind == "tgz" else "w") as tf:
            for path in entries:
                tf.add(path, top + str(path.relative_to(src)), recursive=False)
    return dest


def tar_with(dest: Path, members: list, gz: bool = False) -> Path:
    """Hand-build a tar from (TarInfo, bytes or None) pairs: for archives no tool would make."""
    with tarfile.open(dest, "w:gz" if gz else "w") as tf:
        tf.addfile(_info("appspec.yml", len(SIMPLE_APPSPEC)), io.BytesIO(SIMPLE_APPSPEC.encode()))
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return dest


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info
