"""Strict environment parsing: a bad value stops the process with a message naming the variable."""

from __future__ import annotations

import os
from pathlib import Path


class ConfigError(RuntimeError):
    pass


def _raw(name: str) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (for secrets)."""
    value = os.environ.get(name)
    file_name = os.environ.get(f"{name}_FILE")
    if value is not None and file_name:
        raise ConfigError(f"{name} and {name}_FILE are both set; set only one")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={file_name!r} cannot be read: {exc.strerror}") from exc
    return value


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean; use true or false")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}={number} must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name}={number} must be at most {maximum}")
    return number


def env_days(name: str, default: int | None) -> int | None:
    """A retention period: a whole number of days (at least 1), or `never` (None: keep for ever)."""
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() == "never":
        return None
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(
            f"{name}={value!r} is not a number of days; use a whole number such as 90, or never"
        ) from None
    if number < 1:
        raise ConfigError(f"{name}={number} must be at least 1 day, or never")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_prefixed(prefix: str) -> dict[str, str]:
    """Every non-empty PREFIX<NAME> variable, as {name in lower case: value}."""
    names = {k[len(prefix) :] for k in os.environ if k.startswith(prefix) and k != prefix}
    names |= {n.removesuffix("_FILE") for n in names if n.endswith("_FILE")}
    found = {
        name.lower(): (_raw(prefix + name) or "").strip() for name in names if not name.endswith("_FILE")
    }
    return {name: value for name, value in found.items() if value}
