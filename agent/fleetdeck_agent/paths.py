"""Layout of the agent's deployment root (mirrors the CodeDeploy agent's).

<root>/<group-id>/<deployment-id>/bundle.<ext>
<root>/<group-id>/<deployment-id>/deployment-archive/
<root>/<group-id>/<deployment-id>/logs/scripts.log
<root>/deployment-instructions/<group-id>-cleanup
<root>/deployment-instructions/<group-id>-install.json
<root>/deployment-instructions/<group-id>_last_successful_install
<root>/deployment-instructions/<group-id>_most_recent_install
<root>/deployment-logs/fleetdeck-deployments.log
<root>/ongoing-deployment/<command-id>.json
"""

from __future__ import annotations

import os
import re
from typing import Optional

DEFAULT_ROOT = "/opt/fleetdeck-agent/deployment-root"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")


def safe_component(value: str, what: str) -> str:
    """Ids from the server become path components: refuse anything that could climb out."""
    value = str(value)
    if not _SAFE.match(value) or ".." in value:
        raise ValueError(f"Refusing unsafe {what} {value!r}: it cannot be used as a directory name")
    return value


def write_text_atomic(path: str, text: str, mode: int = 0o644) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)  # novermin: bit flags
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_text(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


class DeploymentRoot:
    def __init__(self, root: str = DEFAULT_ROOT):
        self.root = os.path.abspath(root)

    def ensure(self) -> DeploymentRoot:
        for path in (self.root, self.instructions_dir, self.logs_dir, self.ongoing_dir):
            os.makedirs(path, exist_ok=True)
        return self

    @property
    def instructions_dir(self) -> str:
        return os.path.join(self.root, "deployment-instructions")

    @property
    def logs_dir(self) -> str:
        return os.path.join(self.root, "deployment-logs")

    @property
    def combined_log(self) -> str:
        return os.path.join(self.logs_dir, "fleetdeck-deployments.log")

    @property
    def ongoing_dir(self) -> str:
        return os.path.join(self.root, "ongoing-deployment")

    def group_dir(self, group_id: str) -> str:
        return os.path.join(self.root, safe_component(group_id, "deployment group id"))

    def deployment_dir(self, group_id: str, deployment_id: str) -> str:
        return os.path.join(self.group_dir(group_id), safe_component(deployment_id, "deployment id"))

    def archive_dir(self, group_id: str, deployment_id: str) -> str:
        return os.path.join(self.deployment_dir(group_id, deployment_id), "deployment-archive")

    def bundle_path(self, group_id: str, deployment_id: str, ext: str) -> str:
        return os.path.join(self.deployment_dir(group_id, deployment_id), f"bundle.{ext}")

    def scripts_log(self, group_id: str, deployment_id: str) -> str:
        return os.path.join(self.deployment_dir(group_id, deployment_id), "logs", "scripts.log")

    def instruction(self, group_id: str, suffix: str) -> str:
        return os.path.join(self.instructions_dir, safe_component(group_id, "deployment group id") + suffix)

    def cleanup_file(self, group_id: str) -> str:
        return self.instruction(group_id, "-cleanup")

    def install_file(self, group_id: str) -> str:
        return self.instruction(group_id, "-install.json")

    def last_successful_file(self, group_id: str) -> str:
        return self.instruction(group_id, "_last_successful_install")

    def most_recent_file(self, group_id: str) -> str:
        return self.instruction(group_id, "_most_recent_install")

    def ongoing_file(self, command_id: str) -> str:
        return os.path.join(self.ongoing_dir, safe_component(command_id, "command id") + ".json")

    def last_successful(self, group_id: str) -> Optional[str]:
        """The deployment directory of the group's last successful install, if it still exists."""
        text = read_text(self.last_successful_file(group_id))
        path = text.strip() if text else ""
        return path if path and os.path.isdir(path) else None
