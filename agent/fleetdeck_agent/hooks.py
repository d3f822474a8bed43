"""Run hook scripts: own process group, timeout, runas, live line-by-line output.

Output is read with a selector in the calling thread (no reader threads). Every line goes to
`logs/scripts.log`, the combined deployments log and, as soon as it is read, to the `on_lines`
callback (the log shipper decides how to batch them; see shipper.py). When the script exits but
a background child still holds its stdout, reading stops after DRAIN_SECONDS instead of waiting
for an EOF that may never come.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import signal
import stat
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional

from fleetdeck_agent.appspec import Hook

DRAIN_SECONDS = 1.5
KILL_GRACE = 2.0
FILE_FLUSH_SECONDS = 0.2
BATCH_LINES = 500
TAIL_BYTES = 4096
MAX_LINE = 64 * 1024

LinesCallback = Callable[[List[dict]], None]


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat()


class EventLog:
    """Timestamps each line into scripts.log and the combined log, and hands it to the callback."""

    def __init__(
        self,
        scripts_log: str,
        combined_log: Optional[str],
        deployment_id: str,
        event: str,
        on_lines: Optional[LinesCallback] = None,
    ):
        os.makedirs(os.path.dirname(scripts_log), exist_ok=True)
        self._file = open(scripts_log, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._combined = None
        if combined_log:
            os.makedirs(os.path.dirname(combined_log), exist_ok=True)
            self._combined = open(combined_log, "a", encoding="utf-8")  # noqa: SIM115
        self.deployment_id = deployment_id
        self.event = event
        self.on_lines = on_lines
        self._pending: List[dict] = []
        self._flushed_at = time.monotonic()
        self._tail: deque = deque()
        self._tail_size = 0
        self.line_count = 0

    def line(self, stream: str, script: str, text: str) -> None:
        ts = utcnow()
        self._file.write(f"{ts} [{self.event}] [{script}] [{stream}] {text}\n")
        if self._combined:
            self._combined.write(f"{ts} [{self.deployment_id}] [{self.event}] [{script}] [{stream}] {text}\n")
        self._tail.append(text)
        self._tail_size += len(text) + 1
        while self._tail_size > TAIL_BYTES and len(self._tail) > 1:
            self._tail_size -= len(self._tail.popleft()) + 1
        self.line_count += 1
        if self.on_lines is not None:
            self._pending.append({"ts": ts, "stream": stream, "script": script, "text": text})
            if len(self._pending) >= BATCH_LINES:
                self.flush()

    def note(self, text: str) -> None:
        """An agent message: logged and streamed like script output, under the script name "agent"."""
        self.line("stdout", "agent", text)

    def maybe_flush(self) -> None:
        """After each read: the lines read so far go to the callback now; the files every 0.2 s."""
        self._hand_over()
        if time.monotonic() - self._flushed_at >= FILE_FLUSH_SECONDS:
            self.flush()

    def _hand_over(self) -> None:
        if self._pending and self.on_lines is not None:
            batch, self._pending = self._pending, []
            self.on_lines(batch)

    def flush(self) -> None:
        self._file.flush()
        if self._combined:
            self._combined.flush()
        self._flushed_at = time.monotonic()
        self._hand_over()

    def tail(self) -> str:
        text = "\n".join(self._tail)
        return text[-TAIL_BYTES:]

    def close(self) -> None:
        self.flush()
        self._file.close()
        if self._combined:
            self._combined.close()


@dataclass
class ScriptOutcome:
    error_code: (
        str  # Success | ScriptMissing | ScriptNotExecutable | ScriptTimedOut | ScriptFailed | UnknownError
    )
    message: str
    script_name: str
    duration: float = 0.0


def _current_user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _user_setup(runas: Optional[str], env: Dict[str, str]):
    """Return (preexec_fn, user name). Switching user needs root; the env gets HOME/USER/LOGNAME."""
    import pwd

    name = runas or _current_user()
    try:
        entry = pwd.getpwnam(name) if runas else pwd.getpwuid(os.geteuid())
    except KeyError:
        raise LookupError(f"runas user {name} does not exist on this host") from None
    env.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name)
    if not runas or entry.pw_uid == os.geteuid():
        return None, name
    if os.geteuid() != 0:
        raise PermissionError(f"cannot run as user {name}: the agent is not running as root")
    uid, gid = entry.pw_uid, entry.pw_gid

    def demote() -> None:  # runs in the child between fork and exec
        os.setgid(gid)
        os.initgroups(name, gid)
        os.setuid(uid)

    return demote, name


def _kill_group(proc: subprocess.Popen, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):  # children ignoring SIGTERM
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _spawn(args: List[str], cwd: str, env: Dict[str, str], preexec) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=preexec,
        close_fds=True,
    )


def run_script(
    hook: Hook,
    revision_dir: str,
    env: Dict[str, str],
    log: EventLog,
    cancel: Optional[threading.Event] = None,
    kill_grace: float = KILL_GRACE,
    drain_seconds: float = DRAIN_SECONDS,
) -> ScriptOutcome:
    location = hook.location
    path = os.path.join(revision_dir, location.lstrip("/"))
    started = time.monotonic()
    if not os.path.isfile(path):
        return ScriptOutcome(
            "ScriptMissing", f"Script does not exist at specified location: {location}", location
        )
    if not os.access(path, os.X_OK):
        # GitHub tarballs of scripts committed as 100644 and zips without Unix modes are common;
        # CodeDeploy makes such a script executable and runs it.
        try:
            os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | 0o111)  # noqa: S103 - chmod +x, as CodeDeploy
        except OSError as exc:
            return ScriptOutcome(
                "ScriptNotExecutable",
                f"Unable to set script at specified location: {location} as executable: {exc.strerror}",
                location,
            )
        log.note(f"Script at specified location: {location} is not executable: made it executable (chmod +x)")
    env = dict(env)
    try:
        preexec, user = _user_setup(hook.runas, env)
    except (LookupError, PermissionError) as exc:
        return ScriptOutcome("UnknownError", f"Script at specified location: {location}: {exc}", location)
    log.line("stdout", "agent", f"Running {location} as {user} (timeout {hook.timeout} s)")
    try:
        try:
            proc = _spawn([path], revision_dir, env, preexec)
        except OSError as exc:
            if exc.errno != errno.ENOEXEC:
                raise
            # No #! line: like a shell (and Ruby's spawn, which CodeDeploy uses), run it with /bin/sh.
            log.note(f"{location} has no #! line: running it with /bin/sh")
            proc = _spawn(["/bin/sh", path], revision_dir, env, preexec)
    except OSError as exc:
        code = "ScriptNotExecutable" if isinstance(exc, PermissionError) else "ScriptFailed"
        return ScriptOutcome(
            code,
            f"Script at specified location: {location} run as user {user} could not be "
            f"started: {exc.strerror or exc}",
            location,
        )

    timed_out = cancelled = False
    deadline = started + hook.timeout
    streams = {proc.stdout.fileno(): ("stdout", proc.stdout), proc.stderr.fileno(): ("stderr", proc.stderr)}
    partial = dict.fromkeys(streams, b"")
    selector = selectors.DefaultSelector()
    for fd in streams:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)

    def emit(fd: int, data: bytes, final: bool = False) -> None:
        lines = (partial[fd] + data).split(b"\n")
        rest = lines.pop()
        if final or len(rest) > MAX_LINE:  # a line with no end in sight: ship what we have
            if rest:
                lines.append(rest)
            rest = b""
        partial[fd] = rest
        for raw in lines:
            log.line(streams[fd][0], location, raw.decode("utf-8", "replace").rstrip("\r"))

    exited_at: Optional[float] = None
    try:
        while True:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and (not selector.get_map() or now - exited_at >= drain_seconds):
                break
            if exited_at is None and now >= deadline:
                timed_out = True
                break
            if exited_at is None and cancel is not None and cancel.is_set():
                cancelled = True
                break
            if not selector.get_map():  # output closed: wake as soon as the process exits
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.05)
            else:
                for key, _mask in selector.select(timeout=0.05):
                    try:
                        data = os.read(key.fd, 65536)
                    except BlockingIOError:
                        continue
                    if data:
                        emit(key.fd, data)
                    else:
                        selector.unregister(key.fd)
            log.maybe_flush()
        if timed_out or cancelled:
            _kill_group(proc, kill_grace)
    except BaseException:  # e.g. Ctrl-C in local mode: the script's own session would not see it
        _kill_group(proc, kill_grace)
        raise
    finally:
        for fd in list(selector.get_map()):
            try:
                data = os.read(fd, 65536)
                if data:
                    emit(fd, data)
            except OSError:
                pass
        for fd in streams:
            if partial[fd]:
                emit(fd, b"", final=True)
        selector.close()
        proc.stdout.close()
        proc.stderr.close()
        if proc.poll() is None and not (timed_out or cancelled):
            proc.wait()
        log.flush()

    duration = time.monotonic() - started
    if timed_out:
        return ScriptOutcome(
            "ScriptTimedOut",
            f"Script at specified location: {location} failed to complete in {hook.timeout} seconds",
            location,
            duration,
        )
    if cancelled:
        return ScriptOutcome(
            "UnknownError",
            f"Script at specified location: {location} was stopped because the agent is shutting down",
            location,
            duration,
        )
    code = proc.returncode
    if code == 0:
        return ScriptOutcome(
            "Success", f"Script at specified location: {location} succeeded", location, duration
        )
    if code < 0:
        try:
            signame = signal.Signals(-code).name
        except ValueError:
            signame = str(-code)
        detail = f"was killed by signal {signame}"
    else:
        detail = f"failed with exit code {code}"
    return ScriptOutcome(
        "ScriptFailed",
        f"Script at specified location: {location} run as user {user} {detail}",
        location,
        duration,
    )
