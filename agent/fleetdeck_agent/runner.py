"""Server mode: long-poll for commands, run them one at a time, report back.

Reporting is never lost: the completion is written into `ongoing-deployment/<id>.json`
before it is sent, retried with backoff until the server takes it, and re-sent on the next
start if the agent is stopped first. A command file without a completion means the agent
died mid-event; on start it is reported Failed (UnknownError), as the protocol requires.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections import deque
from typing import Callable, List, Optional

from fleetdeck_agent import __version__
from fleetdeck_agent.client import ApiError, Backoff, Client, TransportError
from fleetdeck_agent.config import Config
from fleetdeck_agent.executor import ExecutorOptions, event_timeout, event_timeouts, execute
from fleetdeck_agent.hooks import utcnow
from fleetdeck_agent.paths import DeploymentRoot, write_text_atomic
from fleetdeck_agent.shipper import LogShipper

log = logging.getLogger("fleetdeck_agent")

RESTART_MESSAGE = "Failing in-progress lifecycle event after an agent restart"
MAX_LINES_WITH_COMPLETION = 1000


class _Shutdown(Exception):
    pass


class _GaveUp(Exception):
    pass


class Agent:
    def __init__(self, config: Config):
        self.config = config
        self.root = DeploymentRoot(config.root).ensure()
        self.client = Client(config.server, config.credential, config.ca_bundle)
        self.options = ExecutorOptions(
            credential=config.credential,
            ca_bundle=config.ca_bundle,
            github_token=config.github_token,
            max_bundle_size=config.max_bundle_size,
            max_revisions=config.max_revisions,
            kill_grace=config.kill_grace,
        )
        self.stopping = threading.Event()
        self.cancel = threading.Event()
        self.stop_time = 0.0
        self.busy = False
        self.done: deque = deque(maxlen=200)
        self.prefetched: List[dict] = []
        self.ec2_instance_id: Optional[str] = None

    # -- signals -------------------------------------------------------------------------------

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum, _frame) -> None:
        name = signal.Signals(signum).name
        if self.stopping.is_set():
            log.warning("Received %s again: stopping the running script now", name)
            self.cancel.set()
            return
        self.stopping.set()
        self.stop_time = time.monotonic()
        if self.busy:
            log.info(
                "Received %s: finishing the current event (at most %.0f s), then exiting",
                name,
                self.config.shutdown_grace,
            )
            timer = threading.Timer(self.config.shutdown_grace, self.cancel.set)
            timer.daemon = True
            timer.start()
        else:
            log.info("Received %s: exiting", name)
            raise _Shutdown()

    def _give_up(self) -> bool:
        return self.stopping.is_set() and time.monotonic() - self.stop_time > self.config.shutdown_grace

    # -- main loop -----------------------------------------------------------------------------

    def run(self) -> int:
        self.install_signals()
        log.info(
            "fleetdeck-agent %s polling %s as %s (root %s)",
            __version__,
            self.config.server,
            self.config.name or "?",
            self.root.root,
        )
        try:
            if self.config.ec2_metadata:
                # Read once per start: a host registered before it could reach instance metadata
                # still gets its id on the server, for EC2 discovery and the elbv2 router.
                from fleetdeck_agent import ec2

                self.ec2_instance_id = ec2.instance_id()
            self.recover()
            backoff = self._backoff()
            while not self.stopping.is_set():
                try:
                    # The server answers a completion with this host's next commands: no poll needed.
                    commands, self.prefetched = (
                        (self.prefetched, []) if self.prefetched else (self.poll(), [])
                    )
                except (TransportError, ApiError) as exc:
                    delay = backoff.next()
                    hint = (
                        " (is the credential revoked? re-run register)"
                        if getattr(exc, "status", 0) == 401
                        else ""
                    )
                    log.warning(
                        "Polling %s failed: %s%s; retrying in %.1f s", self.config.server, exc, hint, delay
                    )
                    time.sleep(delay)
                    continue
                backoff.reset()
                for command in commands:
                    if self.stopping.is_set():
                        break
                    if str(command.get("id", "")) in self.done:  # reported since it was handed out
                        continue
                    self.handle(command)
        except _Shutdown:
            pass
        log.info("Stopped")
        return 0

    def _backoff(self) -> Backoff:
        return Backoff(self.config.backoff_start, self.config.backoff_cap)

    def poll(self) -> List[dict]:
        wait = self.config.poll_wait
        about = {"agent_version": __version__}
        if self.ec2_instance_id:
            about["ec2_instance_id"] = self.ec2_instance_id
        _status, data = self.client.post(f"/agent/v1/poll/?wait={wait}", about, timeout=wait + 15)
        # The server says how often it needs to hear from a busy agent to keep it online.
        beat = data.get("heartbeat_seconds")
        if isinstance(beat, (int, float)) and 0 < beat < self.config.heartbeat_interval:
            self.config.heartbeat_interval = float(beat)
        commands = data.get("commands") or []
        return [command for command in commands if command.get("id") not in self.done]

    def _retry(self, what: str, call: Callable[[], object]):
        backoff = self._backoff()
        while True:
            try:
                return call()
            except TransportError as exc:
                if self._give_up():
                    raise _GaveUp() from None
                delay = backoff.next()
                log.warning("%s failed (%s); retrying in %.1f s", what, exc, delay)
                time.sleep(delay)

    def recover(self) -> None:
        """Report what a previous run left in ongoing-deployment/ (see the module docstring)."""
        for name in sorted(os.listdir(self.root.ongoing_dir)):
            if not name.endswith(".json"):
                continue
            path = os.path.join(self.root.ongoing_dir, name)
            try:
                with open(path, encoding="utf-8") as fh:
                    record = json.load(fh)
            except (OSError, ValueError):
                record = {}
            command_id = (record.get("command") or {}).get("id") or name[: -len(".json")]
            completion = record.get("completion")
            if completion is None:
                log.warning(
                    "Command %s was in progress when the agent stopped: reporting it Failed", command_id
                )
                completion = _agent_failure(RESTART_MESSAGE)
                completion["started_at"] = record.get("started_at") or completion["started_at"]
            else:
                log.info("Re-sending the completion of command %s", command_id)
            if self._complete(command_id, completion, record.get("command")):
                os.unlink(path)

    def _complete(self, command_id: str, completion: dict, command: Optional[dict] = None) -> bool:
        """Report a result. With the command at hand, ask for the host's next event to come back
        already started (`start_next`, with this revision's hook timeouts): no ack round trip."""
        body = dict(completion)
        if command:
            body["start_next"] = {"timeouts": event_timeouts(command, self.root)}
        data: object = {}
        try:
            _status, data = self._retry(
                f"Reporting completion of {command_id}",
                lambda: self.client.post(f"/agent/v1/commands/{command_id}/complete/", body),
            )
        except ApiError as exc:
            log.error("The server refused the completion of %s (%s); dropping it", command_id, exc)
        except _GaveUp:
            log.warning(
                "Could not report %s before shutdown; it will be re-sent on the next start", command_id
            )
            return False
        self.done.append(command_id)
        next_commands = data.get("commands") if isinstance(data, dict) else None
        self.prefetched = [c for c in next_commands or [] if c.get("id") not in self.done]
        for handed in self.prefetched:
            if handed.get("started"):
                # The server counts it as running from now: a restart before its hook starts must
                # report it (restart rule) rather than leave it to the server's hook timeout.
                try:
                    path = self.root.ongoing_file(str(handed.get("id", "")))
                except ValueError:
                    continue  # an id no file may be named after: handle() refuses it
                self._mark(path, {"command": handed})
        return True

    def _mark(self, path: str, record: dict) -> None:
        """Write the restart record. On a full disk go on without it: a crash mid-event is then
        caught by the server's sweep instead of by this agent's next start."""
        try:
            write_text_atomic(path, json.dumps(record))
        except OSError as exc:
            log.warning("Could not write %s (%s): going on without a restart record", path, exc)

    def _ack(self, command_id: str, command: dict) -> bool:
        """Tell the server the event starts; False if it must not run (cancelled, refused, or the
        agent is shutting down)."""
        event = command.get("lifecycle_event")
        try:
            timeout = event_timeout(command, self.root)
            self._retry(
                f"Acknowledging {command_id}",
                lambda: self.client.post(
                    f"/agent/v1/commands/{command_id}/ack/", {"timeout_seconds": timeout}
                ),
            )
        except ApiError as exc:
            if exc.status == 409:
                log.info("Command %s (%s) was cancelled before it started: skipping it", command_id, event)
            else:
                log.error("The server refused to ack %s (%s): skipping it", command_id, exc)
            self.done.append(command_id)
            return False
        except _GaveUp:
            return False
        return True

    def handle(self, command: dict) -> None:
        command_id = str(command.get("id", ""))
        event = command.get("lifecycle_event")
        self.busy = True
        try:
            if self.stopping.is_set():
                return
            ongoing = self.root.ongoing_file(command_id)
            # A command handed out already started (in the answer to the previous completion) needs
            # no ack: the server recorded its start when it handed it out.
            if not command.get("started") and not self._ack(command_id, command):
                return
            started = utcnow()
            self._mark(ongoing, {"command": command, "started_at": started})
            log.info("Running %s for %s (%s)", event, command.get("deployment_id"), command_id)
            shipper = LogShipper(
                self.client, command_id, self.config.heartbeat_interval, self._backoff(), self._give_up
            )
            shipper.start()
            begin = time.monotonic()
            unsent: List[dict] = []
            try:
                completion = execute(command, self.root, shipper.add, self.options, cancel=self.cancel)
            except OSError as exc:  # its own log files could not be written: a full disk, most often
                completion = _agent_failure(f"{event} failed: {exc} (free space under {self.root.root})")
            finally:
                unsent = shipper.close()
            # The last lines ride with the completion: one request less per event.
            log_path = f"/agent/v1/commands/{command_id}/log/"
            while len(unsent) > MAX_LINES_WITH_COMPLETION:
                batch, unsent = unsent[:MAX_LINES_WITH_COMPLETION], unsent[MAX_LINES_WITH_COMPLETION:]
                try:
                    self._retry("Sending log lines", lambda b=batch: self.client.post(log_path, {"lines": b}))
                except (ApiError, _GaveUp) as exc:
                    log.warning("Dropping %d log lines: %s", len(batch), exc)
            if unsent:
                completion["lines"] = unsent
            diagnostics = completion["diagnostics"]
            log.info(
                "%s %s in %.2f s: %s %s",
                event,
                completion["status"],
                time.monotonic() - begin,
                diagnostics["error_code"],
                diagnostics["message"],
            )
            self._mark(ongoing, {"command": command, "started_at": started, "completion": completion})
            if self._complete(command_id, completion, command):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(ongoing)
        finally:
            self.busy = False


def _agent_failure(message: str) -> dict:
    now = utcnow()
    return {
        "status": "Failed",
        "started_at": now,
        "ended_at": now,
        "diagnostics": {"error_code": "UnknownError", "script_name": "", "message": message, "log_tail": ""},
    }


def run_agent(config: Config) -> int:
    return Agent(config).run()
