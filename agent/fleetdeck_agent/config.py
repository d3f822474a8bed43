"""Agent configuration: a small YAML (or JSON) file written by `register`, mode 0600.

Strict parsing: a wrong type or an unknown key fails loudly instead of being ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Dict, Optional

from fleetdeck_agent.paths import DEFAULT_ROOT

DEFAULT_CONFIG = "/etc/fleetdeck-agent/config.yml"


class ConfigError(Exception):
    pass


@dataclass
class Config:
    server: str = ""
    credential: str = ""
    name: str = ""
    instance_id: Optional[int] = None
    root: str = DEFAULT_ROOT
    ca_bundle: Optional[str] = None
    github_token: Optional[str] = None
    max_revisions: int = 5
    max_bundle_size: int = 2 * 1024**3
    poll_wait: int = 25
    heartbeat_interval: float = 10.0
    backoff_start: float = 0.5
    backoff_cap: float = 30.0
    shutdown_grace: float = 60.0
    kill_grace: float = 2.0
    ec2_metadata: bool = True

    def redacted(self) -> Dict[str, object]:
        data = asdict(self)
        for key in ("credential", "github_token"):
            if data.get(key):
                data[key] = "***"
        return data


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 0 or 1 (got {value!r})")


def config_path(explicit: Optional[str] = None) -> str:
    return explicit or os.environ.get("FLEETDECK_AGENT_CONFIG") or DEFAULT_CONFIG


def load_config(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"No agent config at {path}: run `fleetdeck-agent register` first") from None
    except PermissionError:
        raise ConfigError(f"Cannot read the agent config {path}: permission denied") from None
    import yaml

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"The agent config {path} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"The agent config {path} must be a mapping")
    config = Config()
    known = {field.name: field for field in fields(Config)}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"Unknown key {key!r} in the agent config {path}")
        default = getattr(config, key)
        if value is not None and default is not None and not isinstance(value, type(default)):
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            else:
                raise ConfigError(f"{key} in {path} must be a {type(default).__name__} (got {value!r})")
        setattr(config, key, value)
    if "FLEETDECK_AGENT_EC2_METADATA" in os.environ:
        config.ec2_metadata = env_bool("FLEETDECK_AGENT_EC2_METADATA", config.ec2_metadata)
    if os.environ.get("FLEETDECK_AGENT_BACKOFF_CAP"):
        try:
            config.backoff_cap = float(os.environ["FLEETDECK_AGENT_BACKOFF_CAP"])
        except ValueError:
            raise ConfigError("FLEETDECK_AGENT_BACKOFF_CAP must be a number of seconds") from None
    if not config.server or not config.credential:
        raise ConfigError(
            f"The agent config {path} needs server and credential: run `fleetdeck-agent register`"
        )
    return config


def save_config(config: Config, path: str) -> None:
    """Write atomically with mode 0600: the file holds the instance credential."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    data = {key: value for key, value in asdict(config).items() if value is not None}
    if path.endswith(".json"):
        text = json.dumps(data, indent=2) + "\n"
    else:
        import yaml

        text = "# Written by `fleetdeck-agent register`. Holds the instance credential: keep it 0600.\n"
        text += yaml.safe_dump(data, sort_keys=False)
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # novermin: bit flags
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
