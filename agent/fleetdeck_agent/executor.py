"""Run one lifecycle event (one command) and return its completion.

Shared by server mode and local mode:

    execute(command, root, on_lines=None, options=None, cancel=None) -> completion dict

`command` is the dict from the agent protocol (`docs/agent-protocol.md`); the result is the
body of `POST /agent/v1/commands/<id>/complete/`. Nothing here talks to the server.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

from fleetdeck_agent.appspec import (
    APPSPEC_NAMES,
    DEFAULT_TIMEOUT,
    PREVIOUS_REVISION_EVENTS,
    SCRIPTABLE_EVENTS,
    AppSpec,
    AppSpecError,
    Hook,
    load_appspec,
)
from fleetdeck_agent.bundle import DEFAULT_MAX_SIZE, BundleError, detect_bundle_type, extract_bundle
from fleetdeck_agent.hooks import EventLog, LinesCallback, ScriptOutcome, run_script, utcnow
from fleetdeck_agent.paths import DeploymentRoot, write_text_atomic

log = logging.getLogger("fleetdeck_agent")

SERVER_EVENTS = ("BlockTraffic", "AllowTraffic")  # performed by the server; never scripted


@dataclass
class ExecutorOptions:
    credential: Optional[str] = None  # bearer for bundles served by Fleetdeck
    ca_bundle: Optional[str] = None
    github_token: Optional[str] = None
    max_bundle_size: int = DEFAULT_MAX_SIZE
    max_revisions: int = 5
    kill_grace: float = 2.0
    drain_seconds: float = 1.5
    download_timeout: float = 60.0


class EventFailure(Exception):
    def __init__(self, message: str, error_code: str = "UnknownError", script_name: str = ""):
        self.message = message
        self.error_code = error_code
        self.script_name = script_name
        super().__init__(message)


def _completion(
    status: str,
    started: str,
    error_code: str = "Success",
    script_name: str = "",
    message: str = "",
    tail: str = "",
) -> dict:
    return {
        "status": status,
        "started_at": started,
        "ended_at": utcnow(),
        "diagnostics": {
            "error_code": error_code,
            "script_name": script_name,
            "message": message,
            "log_tail": tail,
        },
    }


def execute(
    command: dict,
    root: Union[DeploymentRoot, str],
    on_lines: Optional[LinesCallback] = None,
    options: Optional[ExecutorOptions] = None,
    cancel: Optional[threading.Event] = None,
) -> dict:
    root = root if isinstance(root, DeploymentRoot) else DeploymentRoot(root)
    root.ensure()
    options = options or ExecutorOptions()
    started = utcnow()
    event = command.get("lifecycle_event", "")
    try:
        group_id, deployment_id = command["deployment_group_id"], command["deployment_id"]
        root.deployment_dir(group_id, deployment_id)  # validates both ids
    except (KeyError, ValueError) as exc:
        return _completion("Failed", started, "UnknownError", message=f"Invalid command: {exc}")
    events = EventLog(
        root.scripts_log(group_id, deployment_id), root.combined_log, deployment_id, event, on_lines
    )
    try:
        status, outcome = _run_event(command, event, root, group_id, deployment_id, options, events, cancel)
        if status in ("Succeeded", "Skipped") and command.get("mark_successful"):
            _mark_successful(root, group_id, deployment_id, options.max_revisions)
        events.note(
            f"{event} {status.lower()}: {outcome.message}" if outcome.message else f"{event} {status}"
        )
        return _completion(
            status, started, outcome.error_code, outcome.script_name, outcome.message, events.tail()
        )
    except EventFailure as exc:
        events.note(f"{event} failed: {exc.message}")
        return _completion("Failed", started, exc.error_code, exc.script_name, exc.message, events.tail())
    except (AppSpecError, BundleError, ValueError) as exc:
        events.note(f"{event} failed: {exc}")
        return _completion("Failed", started, "UnknownError", message=str(exc), tail=events.tail())
    except Exception as exc:
        log.exception("Unexpected error in %s", event)
        message = f"Unexpected agent error: {type(exc).__name__}: {exc}"
        events.note(message)
        return _completion("Failed", started, "UnknownError", message=message, tail=events.tail())
    finally:
        events.close()


def _run_event(
    command: dict,
    event: str,
    root: DeploymentRoot,
    group_id: str,
    deployment_id: str,
    options: ExecutorOptions,
    events: EventLog,
    cancel: Optional[threading.Event],
):
    if event == "DownloadBundle":
        info = _download(command, root, group_id, deployment_id, options, events)
        return "Succeeded", ScriptOutcome("Success", f"Downloaded and extracted the revision ({info})", "")
    if event == "Install":
        from fleetdeck_agent.install import InstallError, install

        archive = _ensure_archive(command, root, group_id, deployment_id, options, events)
        spec = load_appspec(archive)
        try:
            result = install(
                archive, spec, root, group_id, deployment_id, command.get("file_exists_behavior"), events.note
            )
        except InstallError as exc:
            raise EventFailure(str(exc)) from None
        # As CodeDeploy does: from now on this revision is what the host runs, so the next deployment's
        # ApplicationStop stops it, even if a later event of this deployment fails.
        _mark_successful(root, group_id, deployment_id, options.max_revisions)
        message = f"Installed {len(result.files)} files, created {len(result.directories)} directories"
        if result.retained:
            message += f", retained {len(result.retained)} existing files"
        return "Succeeded", ScriptOutcome("Success", message, "")
    if event in SERVER_EVENTS:
        return "Skipped", ScriptOutcome("Success", f"{event} is performed by the server", "")
    if event not in SCRIPTABLE_EVENTS:
        raise EventFailure(f"Unknown lifecycle event {event!r}")
    return _run_hooks(command, event, root, group_id, deployment_id, options, events, cancel)


def _run_hooks(
    command: dict,
    event: str,
    root: DeploymentRoot,
    group_id: str,
    deployment_id: str,
    options: ExecutorOptions,
    events: EventLog,
    cancel: Optional[threading.Event],
):
    if event in PREVIOUS_REVISION_EVENTS:
        previous = root.last_successful(group_id)
        if previous is None:
            return "Skipped", ScriptOutcome(
                "Success",
                f"No previous successful revision in this deployment group: {event} has nothing to run",
                "",
            )
        archive = os.path.join(previous, "deployment-archive")
        events.note(
            f"{event} runs the scripts of the last successful revision ({os.path.basename(previous)})"
        )
    else:
        archive = _ensure_archive(command, root, group_id, deployment_id, options, events)
    spec = load_appspec(archive)
    hooks = spec.scripts_for(event)
    if not hooks:
        return "Skipped", ScriptOutcome("Success", f"The appspec has no scripts for {event}", "")
    _check_scripts_exist(hooks, archive)

    env = _script_env(command, event)
    outcome = ScriptOutcome("Success", "", "")
    for hook in hooks:
        outcome = run_script(
            hook,
            archive,
            env,
            events,
            cancel=cancel,
            kill_grace=options.kill_grace,
            drain_seconds=options.drain_seconds,
        )
        if outcome.error_code != "Success":
            break
    if outcome.error_code == "Success":
        return "Succeeded", ScriptOutcome("Success", f"{len(hooks)} script(s) succeeded", outcome.script_name)
    if event in PREVIOUS_REVISION_EVENTS and command.get("ignore_application_stop_failures"):
        events.note(f"Ignoring the failure of {event} (ignore_application_stop_failures)")
        return "Succeeded", ScriptOutcome(
            "Success",
            f"Failure ignored (ignore_application_stop_failures): {outcome.error_code}: {outcome.message}",
            outcome.script_name,
        )
    raise EventFailure(outcome.message, outcome.error_code, outcome.script_name)


def _check_scripts_exist(hooks: List[Hook], archive: str) -> None:
    """Refuse before the event's first script runs when any of its scripts is missing. Only this
    event's: CodeDeploy looks a script up when its event runs, so a first deployment never needs
    the stop script, and a revision is not refused for a script of an event it never reaches."""
    missing = [
        hook.location
        for hook in hooks
        if not os.path.isfile(os.path.join(archive, hook.location.lstrip("/")))
    ]
    if missing:
        message = f"Script does not exist at specified location: {missing[0]}"
        if len(missing) > 1:
            message += f" (also missing: {', '.join(missing[1:])})"
        raise EventFailure(message, "ScriptMissing", missing[0])


def _script_env(command: dict, event: str) -> Dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")}
    for key in ("LANG", "LC_ALL", "TZ"):
        if key in os.environ:
            env[key] = os.environ[key]
    revision = command.get("revision") or {}
    for key, value in (revision.get("env") or {}).items():
        if value is not None:
            env[str(key)] = str(value)
    env.update(
        LIFECYCLE_EVENT=event,
        DEPLOYMENT_ID=str(command.get("deployment_id", "")),
        APPLICATION_NAME=str(command.get("application_name", "")),
        DEPLOYMENT_GROUP_NAME=str(command.get("deployment_group_name", "")),
        DEPLOYMENT_GROUP_ID=str(command.get("deployment_group_id", "")),
    )
    return env


_EXTENSIONS = {"zip": "zip", "tar": "tar", "tgz": "tgz", "directory": "dir"}


def _download(
    command: dict,
    root: DeploymentRoot,
    group_id: str,
    deployment_id: str,
    options: ExecutorOptions,
    events: EventLog,
) -> str:
    from fleetdeck_agent.fetch import download

    revision = command.get("revision") or {}
    url = revision.get("url")
    if not url:
        raise EventFailure("The command has no revision url to download")
    deployment_dir = root.deployment_dir(group_id, deployment_id)
    os.makedirs(deployment_dir, exist_ok=True)
    declared = revision.get("bundle_type")
    archive = root.archive_dir(group_id, deployment_id)
    started = time.monotonic()
    if declared == "directory" or (revision.get("source") == "local" and os.path.isdir(url)):
        info = extract_bundle(url, archive, "directory")
        summary = f"copied directory {url}"
    else:
        for name in os.listdir(deployment_dir):
            if name.startswith("bundle."):
                os.unlink(os.path.join(deployment_dir, name))
        headers: Dict[str, str] = {}
        source = revision.get("source", "fleetdeck")
        if source == "fleetdeck" and options.credential:
            headers["Authorization"] = f"Bearer {options.credential}"
        elif source == "github" and (revision.get("token") or options.github_token):
            headers["Authorization"] = f"token {revision.get('token') or options.github_token}"
        tmp = os.path.join(deployment_dir, "bundle.download-target")
        digest = download(
            url, tmp, headers, revision.get("sha256"), options.ca_bundle, options.download_timeout, root.root
        )
        kind = detect_bundle_type(tmp)
        if kind is None:
            os.unlink(tmp)
            raise BundleError("The downloaded bundle is not a zip, tar or tgz archive")
        if declared and declared != kind:
            events.note(f"The bundle was declared as {declared} but its content is {kind}; using {kind}")
        bundle = root.bundle_path(group_id, deployment_id, _EXTENSIONS[kind])
        os.replace(tmp, bundle)
        info = extract_bundle(bundle, archive, kind, options.max_bundle_size)
        summary = f"{kind}, sha256 {digest[:12]}"
    spec = load_appspec(archive)  # an invalid appspec fails here, before anything is installed
    events.note(
        f"{spec.filename} is valid: {len(spec.files)} files entries, {len(spec.all_scripts())} scripts"
    )
    if info.prefix:
        events.note(f"Stripped the top-level folder {info.prefix.rstrip('/')} that holds the appspec")
    events.note(f"Revision ready in {archive} ({summary}, {time.monotonic() - started:.2f} s)")
    write_text_atomic(root.most_recent_file(group_id), deployment_dir + "\n")
    prune(root, group_id, options.max_revisions, keep=deployment_dir)
    return summary


def _ensure_archive(
    command: dict,
    root: DeploymentRoot,
    group_id: str,
    deployment_id: str,
    options: ExecutorOptions,
    events: EventLog,
) -> str:
    archive = root.archive_dir(group_id, deployment_id)
    if not os.path.isdir(archive):
        events.note("The revision is not on this host yet: downloading it first")
        _download(command, root, group_id, deployment_id, options, events)
    return archive


def _mark_successful(root: DeploymentRoot, group_id: str, deployment_id: str, max_revisions: int) -> None:
    deployment_dir = root.deployment_dir(group_id, deployment_id)
    if os.path.isdir(os.path.join(deployment_dir, "deployment-archive")):
        write_text_atomic(root.last_successful_file(group_id), deployment_dir + "\n")
        prune(root, group_id, max_revisions, keep=deployment_dir)


def prune(root: DeploymentRoot, group_id: str, max_revisions: int, keep: Optional[str] = None) -> List[str]:
    """Keep the newest `max_revisions` deployments of a group; never the last successful one."""
    group_dir = root.group_dir(group_id)
    try:
        names = os.listdir(group_dir)
    except FileNotFoundError:
        return []
    dirs = [os.path.join(group_dir, name) for name in names if os.path.isdir(os.path.join(group_dir, name))]
    dirs.sort(key=lambda path: os.stat(path).st_mtime, reverse=True)
    protected = {path for path in (keep, root.last_successful(group_id)) if path}
    budget = max(max_revisions, len(protected)) - len(protected)
    removed = []
    for path in dirs:
        if path in protected:
            continue
        if budget > 0:
            budget -= 1
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


AGENT_EVENTS = (*SCRIPTABLE_EVENTS, "DownloadBundle", "Install")


def event_timeouts(command: dict, root: Union[DeploymentRoot, str]) -> Dict[str, int]:
    """The timeout of every event an agent runs for this command's deployment: the sum of its
    scripts' timeouts, 60 s for an event without scripts, the default where the revision is not on
    disk yet. Sent with a completion so the server can hand out the next event already started."""
    root = root if isinstance(root, DeploymentRoot) else DeploymentRoot(root)
    out = dict.fromkeys(AGENT_EVENTS, DEFAULT_TIMEOUT)
    try:
        group_id, deployment_id = command["deployment_group_id"], command["deployment_id"]
        previous = root.last_successful(group_id)
        current = _appspec_or_none(root.archive_dir(group_id, deployment_id))
        before = _appspec_or_none(os.path.join(previous, "deployment-archive")) if previous else None
    except (KeyError, ValueError, OSError):
        return out
    for name in SCRIPTABLE_EVENTS:
        if name in PREVIOUS_REVISION_EVENTS and previous is None:
            out[name] = 60  # nothing installed yet: no scripts to run
            continue
        spec = before if name in PREVIOUS_REVISION_EVENTS else current
        if spec is not None:
            out[name] = spec.event_timeout(name) or 60  # no scripts: it ends at once
    return out


def _appspec_or_none(archive: str) -> Optional[AppSpec]:
    """The revision's appspec, or None when it is not on disk (yet) or cannot be read."""
    try:
        return _parsed_appspec(archive) if os.path.isdir(archive) else None
    except (ValueError, AppSpecError, OSError):
        return None


_PARSED: Dict[str, tuple] = {}


def _parsed_appspec(archive: str):
    """load_appspec, remembered while the file is unchanged: every completion sends the timeouts,
    and a revision's appspec does not change between its events."""
    stamps = []
    for name in APPSPEC_NAMES:
        try:
            st = os.stat(os.path.join(archive, name))
        except OSError:
            continue
        stamps.append((name, st.st_mtime_ns, st.st_size, st.st_ino))
    known = _PARSED.get(archive)
    if known is not None and known[0] == stamps:
        return known[1]
    spec = load_appspec(archive)
    if len(_PARSED) > 64:
        _PARSED.clear()
    _PARSED[archive] = (stamps, spec)
    return spec


def event_timeout(command: dict, root: Union[DeploymentRoot, str]) -> int:
    """Sum of the event's script timeouts (for the ack), or the default when unknown yet."""
    return event_timeouts(command, root).get(command.get("lifecycle_event", ""), DEFAULT_TIMEOUT)
