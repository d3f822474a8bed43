"""Following a deployment: live progress while it runs, a summary when it ends.

It reads the deployment's event log with `GET /deployments/{id}/events/?after=SEQ`, the same
numbered log the live page streams, so no line is missed or shown twice across polls. On a
terminal, progress is one redrawn bar with notable events printed above it; otherwise (CI logs)
every state change is one plain line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import IO, Dict, List, Optional

from fleetdeck_cli.api import Api
from fleetdeck_cli.errors import DEPLOYMENT_EXIT, ERROR, NETWORK, TIMEOUT, CliError
from fleetdeck_cli.terminal import clean

TERMINAL = ("Succeeded", "Failed", "Stopped")
# How long the server may stay unreachable while we follow a deployment before giving up.
OUTAGE_SECONDS = 120.0


def poll_interval() -> float:
    try:
        return max(0.1, float(os.environ.get("FLEETDECK_POLL_INTERVAL", "1")))
    except ValueError:
        raise CliError("FLEETDECK_POLL_INTERVAL must be a number of seconds") from None


def log_line(event: dict, colours: bool = False) -> str:
    """A hook's output line, stripped of terminal control sequences (plain colours kept on request)."""
    stream = " stderr" if event.get("stream") == "stderr" else ""
    where = clean(f"{event.get('instance', '')} {event.get('event', '')}{stream}")
    return f"[{where}] {clean(str(event.get('message', '')), colours)}"


def describe(event: dict) -> Optional[str]:
    """One readable line for a state change, or None for ones not worth a line."""
    line = _describe(event)
    return None if line is None else clean(line)


def _describe(event: dict) -> Optional[str]:
    kind, status = event.get("kind"), event.get("status", "")
    message = event.get("message", "")
    code = f" {event['error_code']}" if event.get("error_code") else ""
    tail = f": {message}" if message else ""
    if kind == "deployment":
        return f"deployment {status}{code}{tail}"
    if kind == "halting":
        return f"halting{code}{tail}"
    if kind == "target":
        return f"{event.get('instance', '')}: {status}{code}{tail}"
    if kind == "event" and status not in ("Pending", "Skipped", "InProgress"):
        return f"{event.get('instance', '')} {event.get('event', '')}: {status}{code}{tail}"
    return None


class Watcher:
    def __init__(
        self,
        api: Api,
        deployment_id: str,
        *,
        out: Optional[IO[str]] = None,
        tty: Optional[bool] = None,
        show_logs: bool = False,
        quiet: bool = False,
    ):
        self.api = api
        self.id = deployment_id
        self.out = out or sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self.show_logs = show_logs
        self.quiet = quiet
        self.cursor = 0
        self.started = time.monotonic()
        self.bar_shown = False
        self.overview: Dict[str, int] = {}
        self.status = ""

    def run(self, timeout: Optional[float] = None) -> dict:
        """Follow until the deployment ends; return its detail. Raise CliError(TIMEOUT) past `timeout`."""
        interval = poll_interval()
        deadline = None if timeout is None else time.monotonic() + timeout
        outage_since: Optional[float] = None
        refresh = True
        while True:
            try:
                page = self.api.get(
                    f"/api/v1/deployments/{self.id}/events/", {"after": self.cursor, "limit": 2000}
                )
                if refresh or not self.overview:
                    self._refresh_overview()
                    refresh = False
                outage_since = None
            except CliError as exc:
                if exc.code != NETWORK:
                    raise
                outage_since = outage_since or time.monotonic()
                if time.monotonic() - outage_since > OUTAGE_SECONDS:
                    raise
                time.sleep(interval)
                continue
            for event in page["events"]:
                refresh = refresh or event.get("kind") in ("deployment", "target")
                self._show(event)
            self.cursor = page["last_seq"]
            if page["status"] == "Ready" and self.status != "Ready" and not self.quiet:
                self._clear()
                self.out.write(
                    f"{self.id} is Ready: traffic moves when someone runs `fleetdeck continue {self.id}` "
                    "(or the group's wait runs out)\n"
                )
            self.status = page["status"]
            if refresh:
                self._refresh_overview()
                refresh = False
            self._draw()
            if page["done"]:
                break
            if page["has_more"]:
                continue
            if deadline is not None and time.monotonic() > deadline:
                self._clear()
                raise CliError(
                    f"Deployment {self.id} is still {self.status} after {timeout:g} s; "
                    f"follow it with: fleetdeck wait {self.id}",
                    TIMEOUT,
                )
            time.sleep(interval)
        self._clear()
        return self.api.get(f"/api/v1/deployments/{self.id}/")

    def _refresh_overview(self) -> None:
        detail = self.api.get(f"/api/v1/deployments/{self.id}/")
        self.overview = detail.get("overview") or {}
        self.status = detail.get("status", self.status)

    # -- output ------------------------------------------------------------------------------------

    def _show(self, event: dict) -> None:
        if self.quiet:
            return
        if event.get("kind") == "log":
            line = log_line(event, self.tty) if self.show_logs else None
        else:
            line = describe(event)
            if line and self.tty and event.get("kind") == "event" and event.get("status") == "Succeeded":
                line = None  # the bar shows those; the terminal keeps failures and host results
        if line:
            self._clear()
            self.out.write(f"{self.id} {line}\n" if not self.tty else f"{line}\n")
            self.out.flush()

    def _draw(self) -> None:
        if not self.tty or self.quiet:
            return
        total = sum(self.overview.values())
        done = sum(self.overview.get(k, 0) for k in ("Succeeded", "Failed", "Skipped"))
        width = 30
        filled = int(width * done / total) if total else 0
        counts = ", ".join(
            f"{self.overview[k]} {k.lower() if k != 'InProgress' else 'in progress'}"
            for k in ("Succeeded", "Failed", "InProgress", "Skipped", "Ready")
            if self.overview.get(k)
        )
        elapsed = int(time.monotonic() - self.started)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} hosts"
            f"{' (' + counts + ')' if counts else ''} {self.status} {elapsed // 60:02d}:{elapsed % 60:02d}"
        )
        self.out.write("\r\033[K" + line)
        self.out.flush()
        self.bar_shown = True

    def _clear(self) -> None:
        if self.bar_shown:
            self.out.write("\r\033[K")
            self.out.flush()
            self.bar_shown = False


def summary(detail: dict) -> List[str]:
    """The ending, host by host, with the failing script's diagnostics and the last lines it printed."""
    code = f" ({detail['error_code']})" if detail.get("error_code") else ""
    message = f": {detail['error_message']}" if detail.get("error_message") else ""
    lines = [f"Deployment {detail['id']} {detail['status']}{code}{message}"]
    for target in detail.get("targets", []):
        lines.append(f"  {target['instance']:<24} {target['status']}")
        for event in target.get("lifecycle_events", []):
            diagnostics = event.get("diagnostics") or {}
            if event.get("status") != "Failed":
                continue
            code, message = diagnostics.get("error_code", ""), diagnostics.get("message", "")
            lines.append(f"    {event['name']} Failed {code}: {message}")
            tail = (diagnostics.get("log_tail") or "").rstrip("\n").splitlines()[-10:]
            lines.extend(f"      | {text}" for text in tail)
    return [clean(line) for line in lines]


def exit_code(detail: dict) -> int:
    return DEPLOYMENT_EXIT.get(detail.get("status", ""), ERROR)


def emit_json(data: object, out: Optional[IO[str]] = None) -> None:
    (out or sys.stdout).write(json.dumps(data, indent=2, sort_keys=True) + "\n")
