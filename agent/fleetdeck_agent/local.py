"""Local mode (like `codedeploy-local`): run a bundle's whole lifecycle on this machine.

It builds the same command dicts the server would send and runs them through the shared
executor, so what passes here behaves the same under the server.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from datetime import datetime, timezone
from typing import List, Optional, TextIO

from fleetdeck_agent.executor import ExecutorOptions, execute
from fleetdeck_agent.paths import DEFAULT_ROOT, DeploymentRoot

DEFAULT_EVENTS = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
]
# Every event local mode knows, in the order a deployment runs them.
LOCAL_EVENTS = (
    "BeforeBlockTraffic",
    "AfterBlockTraffic",
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
REQUIRED_EVENTS = ("DownloadBundle", "Install")
DEFAULT_GROUP = "default-local-deployment-group"


class LocalError(Exception):
    pass


def parse_events(text: Optional[str]) -> List[str]:
    """The events to run, in lifecycle order. DownloadBundle and Install are always among them, as
    codedeploy-local adds them: the hooks asked for run against an installed revision."""
    if not text:
        return list(DEFAULT_EVENTS)
    events = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in events if name not in LOCAL_EVENTS]
    if unknown:
        raise LocalError(f"Unknown lifecycle event(s): {', '.join(unknown)}. Use {', '.join(LOCAL_EVENTS)}.")
    wanted = set(events) | set(REQUIRED_EVENTS)
    return [name for name in LOCAL_EVENTS if name in wanted]


def _group_id(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "group"
    return f"local-{slug}"[:100]


def build_commands(
    bundle: str,
    group: str,
    events: List[str],
    bundle_type: Optional[str],
    file_exists_behavior: Optional[str],
    application: str = "local-application",
) -> List[dict]:
    path = os.path.abspath(bundle)
    if not os.path.exists(path):
        raise LocalError(f"The bundle {bundle} does not exist")
    if bundle_type is None and os.path.isdir(path):
        bundle_type = "directory"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    deployment_id = f"d-LOCAL{stamp}{secrets.token_hex(3).upper()}"
    base = {
        "deployment_id": deployment_id,
        "application_name": application,
        "deployment_group_name": group,
        "deployment_group_id": _group_id(group),
        "deployment_creator": "user",
        "revision": {
            "id": None,
            "source": "local",
            "bundle_type": bundle_type,
            "url": path,
            "sha256": None,
            "env": {},
        },
        "file_exists_behavior": file_exists_behavior or "DISALLOW",
        "ignore_application_stop_failures": False,
        "issued_at": datetime.now(timezone.utc).isoformat(),
    }
    return [
        dict(
            base,
            id=f"{deployment_id}-{index}",
            lifecycle_event=event,
            mark_successful=index == len(events) - 1,
        )
        for index, event in enumerate(events)
    ]


def run_local(
    bundle: str,
    group: str = DEFAULT_GROUP,
    events: Optional[List[str]] = None,
    file_exists_behavior: Optional[str] = None,
    root: str = DEFAULT_ROOT,
    bundle_type: Optional[str] = None,
    out: TextIO = sys.stdout,
    show_output: bool = True,
    options: Optional[ExecutorOptions] = None,
) -> int:
    """Run the lifecycle; print a per-event summary; return 0 on success, 1 on failure."""
    commands = build_commands(
        bundle, group, events or list(DEFAULT_EVENTS), bundle_type, file_exists_behavior
    )
    deployment_root = DeploymentRoot(root).ensure()
    first = commands[0]
    out.write(
        f"Deployment {first['deployment_id']} of {os.path.abspath(bundle)}\n"
        f"  group {group} ({first['deployment_group_id']}), root {deployment_root.root}\n\n"
    )
    out.flush()

    def print_lines(lines: List[dict]) -> None:
        if show_output:
            for line in lines:
                if line["script"] != "agent":
                    out.write(f"    | {line['text']}\n")
            out.flush()

    rows = []
    failed = False
    for command in commands:
        event = command["lifecycle_event"]
        if failed:
            rows.append((event, "NotRun", 0.0, ""))
            continue
        out.write(f"  {event} ...\n")
        out.flush()
        begin = time.monotonic()
        completion = execute(command, deployment_root, print_lines, options)
        elapsed = time.monotonic() - begin
        diagnostics = completion["diagnostics"]
        detail = "" if diagnostics["error_code"] == "Success" else f"{diagnostics['error_code']}: "
        detail += diagnostics["message"]
        rows.append((event, completion["status"], elapsed, detail))
        failed = completion["status"] == "Failed"

    out.write("\n  Event                Status      Duration  Details\n")
    for event, status, elapsed, detail in rows:
        duration = f"{elapsed:7.2f}s" if status != "NotRun" else "      -"
        out.write(f"  {event:<20} {status:<10} {duration}  {detail}\n")
    logs = deployment_root.scripts_log(first["deployment_group_id"], first["deployment_id"])
    out.write(f"\nScript log: {logs}\n")
    out.write("Deployment failed\n" if failed else "Deployment succeeded\n")
    out.flush()
    return 1 if failed else 0
