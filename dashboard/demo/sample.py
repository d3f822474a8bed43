"""The sample application's bundle and the per-host files its hooks read."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import tarfile
import time
from pathlib import Path

from . import DemoHost

BUNDLE_DIR = Path(__file__).resolve().parent / "bundle"


def build_bundle(label: str) -> bytes:
    """A gzip'd tar of bundle/ plus app/REVISION holding `label`, the text ValidateService looks for."""
    members = sorted(p for p in BUNDLE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        entries = [(p.relative_to(BUNDLE_DIR).as_posix(), p.read_bytes()) for p in members]
        entries.append(("app/REVISION", f"{label}\n".encode()))
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.startswith("scripts/") and name.endswith(".sh") else 0o644
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def prepare_host(host: DemoHost, watch_pid: int) -> None:
    """Write the host's folder and the demo-host.env its hooks source (port, name, the demo's pid)."""
    host.root.mkdir(parents=True, exist_ok=True)
    (host.home / "demo-host.env").write_text(
        f"DEMO_HOST={host.name}\nDEMO_PORT={host.port}\nDEMO_WATCH_PID={watch_pid}\n"
    )


def _server_pid(host: DemoHost) -> int | None:
    """The pid in the host's pidfile, if that process is still this host's sample server."""
    try:
        pid = int(host.pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"server.py" in cmdline and f"\0{host.name}\0".encode() in cmdline else None


def stop_services(hosts: list[DemoHost], timeout: float = 5.0) -> list[int]:
    """Stop every host's sample server by its pidfile; return the pids that were running."""
    pids = [pid for pid in (_server_pid(h) for h in hosts) if pid]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in pids:
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for host in hosts:
        host.pidfile.unlink(missing_ok=True)
    return pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours (the servers are not, but be exact) has finished.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    return False


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False
