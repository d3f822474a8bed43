"""Build the wheelhouse hosts install the agent from: the agent's wheel plus PyYAML.

Built once per version of the agent's sources (a digest of them names the directory under
`$FLEETDECK_VAR_DIR/agent-dist/`), under a file lock so web workers and `manage.py
build_agent_dist` never build twice at the same time, into a temporary directory renamed into
place, so a half-built wheelhouse is never served.

PyYAML, the agent's only dependency, comes as:
- the wheel for the server's platform, from `pip download` when an index is reachable, else
  repacked from the copy installed in the server's own environment (same files, same tags);
- a pure-Python wheel (`py3-none-any`) repacked from that same copy without the optional libyaml
  extension, which PyYAML falls back from by design: it installs on any Python >= 3.9, so hosts
  whose Python or CPU differs from the server's need no compiler and no internet.

No sdist: building PyYAML's sdist needs setuptools and Cython from an index, which is exactly what
an air-gapped host lacks, so the pure wheel is the fallback that works there.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

AGENT_DIR = Path(settings.BASE_DIR) / "agent"
MANIFEST = "manifest.json"
PIP_TIMEOUT = 300
# Installer metadata that describes this environment, not the distribution.
_LOCAL_ONLY = {"INSTALLER", "REQUESTED", "RECORD", "WHEEL", "direct_url.json"}
_EXTENSIONS = (".so", ".pyd", ".dylib")


class DistUnavailable(Exception):
    """The wheelhouse cannot be built; the message says why and what to do."""


@dataclass(frozen=True)
class DistFile:
    name: str
    sha256: str
    size: int


def agent_sources(agent_dir: Path = AGENT_DIR) -> list[Path]:
    """What goes into the agent's wheel: its metadata and the packages pyproject.toml lists."""
    pyproject = agent_dir / "pyproject.toml"
    with open(pyproject, "rb") as fh:
        packages = tomllib.load(fh).get("tool", {}).get("setuptools", {}).get("packages", ["fleetdeck_agent"])
    files = [pyproject, agent_dir / "README.md"]
    for package in sorted(packages):
        package_dir = agent_dir / package.replace(".", "/")
        files += sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def sources_digest(agent_dir: Path = AGENT_DIR) -> str:
    digest = hashlib.sha256()
    for path in agent_sources(agent_dir):
        digest.update(path.relative_to(agent_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def dist_root() -> Path:
    return Path(settings.VAR_DIR) / "agent-dist"


def wheelhouse(agent_dir: Path = AGENT_DIR) -> Path:
    """The directory holding the current wheelhouse, built first if the agent's sources changed."""
    base = dist_root()
    target = base / sources_digest(agent_dir)[:16]
    if (target / MANIFEST).exists():
        return target
    base.mkdir(parents=True, exist_ok=True)
    with _locked(base / ".lock"):
        if (target / MANIFEST).exists():  # another process built it while we waited
            return target
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=base))
        try:
            _build(agent_dir, work)
            shutil.rmtree(target, ignore_errors=True)  # an incomplete earlier attempt
            os.rename(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        for stale in base.iterdir():
            if stale.is_dir() and stale != target:
                shutil.rmtree(stale, ignore_errors=True)
    return target


def dist_files(directory: Path) -> list[DistFile]:
    data = json.loads((directory / MANIFEST).read_text())
    return [DistFile(name, meta["sha256"], meta["size"]) for name, meta in sorted(data.items())]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(agent_dir: Path, out: Path) -> None:
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources it builds.
    src = out / ".src"
    for path in agent_sources(agent_dir):
        dest = src / path.relative_to(agent_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    args = ["wheel", str(src), "--no-deps", "--wheel-dir", str(out)]
    if _has_setuptools():
        args.append("--no-build-isolation")  # no index needed: the server's own setuptools builds it
    _pip(args, "build the agent's wheel")
    shutil.rmtree(src)
    _add_pyyaml(out)
    manifest = {
        path.name: {"sha256": _sha256(path.read_bytes()), "size": path.stat().st_size}
        for path in sorted(out.iterdir())
        if path.is_file()
    }
    if not any(name.startswith("fleetdeck_agent-") for name in manifest):
        raise DistUnavailable("pip wheel produced no fleetdeck_agent wheel")
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))


def _add_pyyaml(out: Path) -> None:
    try:
        version = importlib.metadata.version("PyYAML")
    except importlib.metadata.PackageNotFoundError:
        raise DistUnavailable("PyYAML is not installed in the server's environment") from None
    download = [
        *("download", f"PyYAML=={version}", "--no-deps", "--only-binary=:all:", "--dest", str(out)),
        *("--timeout", "15", "--retries", "1"),
    ]
    if not (settings.AGENT_DIST_DOWNLOAD and _try_pip(download)):
        repack_installed("PyYAML", out)
    repack_installed("PyYAML", out, pure=True)


def repack_installed(name: str, out: Path, *, pure: bool = False) -> Path | None:
    """Write a wheel of the distribution installed in this environment.

    With `pure`, extension modules are left out and the wheel is tagged py3-none-any; only for
    distributions that work without them (PyYAML falls back to its pure-Python parser).
    """
    dist = importlib.metadata.distribution(name)
    files = [f for f in dist.files or [] if ".." not in f.parts and "__pycache__" not in f.parts]
    info_dirs = {f.parts[0] for f in files if f.parts[0].endswith(".dist-info")}
    if len(info_dirs) != 1:
        return None
    info_dir = info_dirs.pop()
    if pure:
        tags, purelib = ["py3-none-any"], True
    else:
        wheel_meta = dist.read_text("WHEEL") or ""
        tags = re.findall(r"^Tag: *(\S+)", wheel_meta, re.MULTILINE)
        purelib = "Root-Is-Purelib: true" in wheel_meta
        if not tags:
            return None  # installed from something that recorded no tags: nothing honest to name it
    entries: dict[str, bytes] = {}
    for f in files:
        if f.parts[0] == info_dir and len(f.parts) == 2 and f.name in _LOCAL_ONLY:
            continue
        if f.suffix == ".pyc" or (pure and f.name.endswith(_EXTENSIONS)):
            continue
        entries[f.as_posix()] = Path(dist.locate_file(f)).read_bytes()
    entries[f"{info_dir}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: fleetdeck (repacked from the server's environment)\n"
        f"Root-Is-Purelib: {'true' if purelib else 'false'}\n" + "".join(f"Tag: {t}\n" for t in tags)
    ).encode()
    record = (
        "".join(f"{path},sha256={_record_hash(data)},{len(data)}\n" for path, data in entries.items())
        + f"{info_dir}/RECORD,,\n"
    )
    entries[f"{info_dir}/RECORD"] = record.encode()
    canonical = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    wheel = out / f"{canonical}-{dist.version}-{_compress_tags(tags)}.whl"
    if wheel.exists():
        return wheel  # pip download already fetched this very wheel
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries.items():
            archive.writestr(path, data)
    return wheel


def _compress_tags(tags: list[str]) -> str:
    parts = [t.split("-") for t in tags]
    return "-".join(".".join(dict.fromkeys(p[i] for p in parts)) for i in range(3))


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _has_setuptools() -> bool:
    """Can the server's own setuptools build the wheel (no index needed)? From 77 it reads the agent's
    SPDX `license` string (and has bdist_wheel built in, since 70.1)."""
    try:
        found = tuple(int(p) for p in importlib.metadata.version("setuptools").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return found >= (77, 0)


def _pip_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"]


def _pip(args: list[str], what: str) -> None:
    try:
        result = subprocess.run(
            _pip_command(args), capture_output=True, text=True, timeout=PIP_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DistUnavailable(f"Could not {what}: {exc}") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise DistUnavailable(f"Could not {what} (pip exited {result.returncode}): " + " | ".join(tail))


def _try_pip(args: list[str]) -> bool:
    try:
        _pip(args, "pip " + " ".join(args[:2]))
    except DistUnavailable as exc:
        log.info("agent dist: %s (going on without it)", exc)
        return False
    return True
