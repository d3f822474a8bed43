"""Take over a host from the CodeDeploy agent: `fleetdeck-agent adopt-codedeploy`.

The CodeDeploy agent keeps, per deployment group id, under its deployment root:

    deployment-instructions/<group>-cleanup                  what its last Install created, one path a line
                                                             ("semanage\\0<path>" for SELinux rules); a last
                                                             line without its newline was never finished
    deployment-instructions/<group>-install.json             {"instructions": [{"type": "copy", ...}, ...]}
    deployment-instructions/<group>_last_successful_install  <root>/<group>/<deployment-id>, no newline
    deployment-instructions/<group>_most_recent_install      the same for the last DownloadBundle
    <group>/<deployment-id>/deployment-archive/              that revision, its hooks included

Adopting writes Fleetdeck's equivalent for one Fleetdeck deployment group, so its first deployment on
this host does what CodeDeploy's next one would have done: run the old revision's ApplicationStop, and
replace (not refuse, under DISALLOW) the files CodeDeploy installed. CodeDeploy's own files are only read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from fleetdeck_agent.paths import DeploymentRoot, read_text, safe_component, write_text_atomic

CODEDEPLOY_ROOT = "/opt/codedeploy-agent/deployment-root"
MARKER = "adopted-from-codedeploy.json"
_GROUP_FILE = re.compile(r"^(?P<group>.+?)(?:-cleanup|-install\.json|_last_successful_install)$")

Note = Callable[[str], None]


class AdoptError(Exception):
    pass


@dataclass
class Adopted:
    group: str
    fleetdeck_group: str
    cleanup_paths: int = 0
    deployment_id: Optional[str] = None  # the revision whose ApplicationStop runs next
    skipped: List[str] = field(default_factory=list)
    already: bool = False


def codedeploy_groups(cd_root: str) -> Dict[str, Optional[str]]:
    """CodeDeploy deployment group ids with state under `cd_root`: {group id: last successful deployment}."""
    instructions = os.path.join(cd_root, "deployment-instructions")
    try:
        names = sorted(os.listdir(instructions))
    except FileNotFoundError:
        raise AdoptError(
            f"{cd_root} holds no CodeDeploy agent state (no deployment-instructions folder): pass the "
            "CodeDeploy deployment root with --root"
        ) from None
    groups: Dict[str, Optional[str]] = {}
    for name in names:
        match = _GROUP_FILE.match(name)
        if match:
            group = match["group"]
            last = (read_text(os.path.join(instructions, f"{group}_last_successful_install")) or "").strip()
            groups[group] = os.path.basename(last) or None
    return groups


def _cleanup_paths(text: str) -> List[str]:
    lines = text.split("\n")
    lines.pop()  # "" after a final newline, or a line the agent never finished writing
    return [line for line in lines if line.strip()]


def adopt(cd_root: str, root: DeploymentRoot, group: str, fleetdeck_group: str, note: Note) -> Adopted:
    groups = codedeploy_groups(cd_root)
    if group not in groups:
        found = ", ".join(f"{g} (last deployment {d or 'none'})" for g, d in groups.items()) or "none"
        raise AdoptError(
            f"No CodeDeploy deployment group {group} under {cd_root}. Groups found: {found}. CodeDeploy "
            "names its state by the group's id: aws deploy get-deployment-group --application-name APP "
            "--deployment-group-name GROUP --query deploymentGroupInfo.deploymentGroupId"
        )
    try:
        safe_component(fleetdeck_group, "Fleetdeck deployment group id")
    except ValueError as exc:
        raise AdoptError(str(exc)) from None
    root.ensure()
    instructions = os.path.join(cd_root, "deployment-instructions")
    last = (read_text(os.path.join(instructions, f"{group}_last_successful_install")) or "").strip()
    result = Adopted(group, fleetdeck_group, deployment_id=os.path.basename(last) or None)
    origin = {
        "codedeploy_root": os.path.abspath(cd_root),
        "group": group,
        "deployment_id": result.deployment_id,
    }

    marker = os.path.join(root.group_dir(fleetdeck_group), MARKER)
    ours = (root.cleanup_file(fleetdeck_group), root.last_successful_file(fleetdeck_group))
    if any(os.path.exists(path) for path in ours):
        previous = read_text(marker)
        if previous and json.loads(previous) == origin:
            note(f"Group {fleetdeck_group} already adopted {group} from {cd_root}: nothing to do")
            result.already = True
            return result
        raise AdoptError(
            f"Fleetdeck already deployed group {fleetdeck_group} on this host (see {root.instructions_dir}); "
            "adopting CodeDeploy's state now would lose track of the files Fleetdeck installed"
        )

    text = read_text(os.path.join(instructions, f"{group}-cleanup"))
    paths: List[str] = []
    for line in _cleanup_paths(text or ""):
        if line.startswith("semanage\0"):
            result.skipped.append(line.split("\0", 1)[1])  # an SELinux file-context rule, not a file
        elif line.startswith("/"):
            paths.append(line)
        else:
            result.skipped.append(line)
    result.cleanup_paths = len(paths)

    archive = os.path.join(last, "deployment-archive") if last else ""
    if result.deployment_id and os.path.isdir(archive):
        deployment_dir = root.deployment_dir(
            fleetdeck_group, safe_component(result.deployment_id, "deployment id")
        )
        target = os.path.join(deployment_dir, "deployment-archive")
        if os.path.lexists(target):
            shutil.rmtree(target)
        shutil.copytree(archive, target, symlinks=True)
        write_text_atomic(root.last_successful_file(fleetdeck_group), deployment_dir + "\n")
        write_text_atomic(root.most_recent_file(fleetdeck_group), deployment_dir + "\n")
        note(f"Copied revision {result.deployment_id} from {archive}: its ApplicationStop runs next")
    else:
        note(
            "CodeDeploy's last successful revision is not on this host any more: the first Fleetdeck "
            "deployment has no ApplicationStop to run"
        )
        result.deployment_id = None
    record = {
        "deployment_id": result.deployment_id,
        "adopted_from": origin,
        "files": [],
        "directories": [],
        "retained": [],
    }
    try:
        install = json.loads(read_text(os.path.join(instructions, f"{group}-install.json")) or "{}")
        for step in install.get("instructions") or []:
            if step.get("type") == "copy":
                record["files"].append(step.get("destination"))
            elif step.get("type") == "mkdir":
                record["directories"].append(step.get("directory"))
    except (ValueError, AttributeError):
        note(f"{group}-install.json is not readable JSON; the cleanup list alone is used")
    write_text_atomic(root.install_file(fleetdeck_group), json.dumps(record, indent=1))
    write_text_atomic(root.cleanup_file(fleetdeck_group), "".join(path + "\n" for path in paths))
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    write_text_atomic(marker, json.dumps(origin))
    note(
        f"Adopted CodeDeploy group {group} as Fleetdeck group {fleetdeck_group}: the first deployment "
        f"replaces the {len(paths)} paths CodeDeploy installed"
        + (f" (left out {len(result.skipped)} SELinux rules and other lines)" if result.skipped else "")
    )
    return result
