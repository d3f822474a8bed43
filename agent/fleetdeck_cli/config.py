"""Where the CLI finds its server, token and project: flags, then the environment, then the config file.

The file is INI with one section per profile (like ~/.aws/credentials), written mode 0600:

    [default]
    url = https://fleetdeck.example.com
    token = fdp_...
    project = shop

`project` is optional: names are per project, so it says which project's application (or instance)
a name means when the same name is in several of the user's projects.
"""

from __future__ import annotations

import configparser
import os
import stat
import sys
from dataclasses import dataclass
from typing import Dict, Optional

from fleetdeck_cli.errors import USAGE, CliError

DEFAULT_PROFILE = "default"
KEYS = ("url", "token", "ca_bundle", "project")


def config_path() -> str:
    explicit = os.environ.get("FLEETDECK_CONFIG")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "fleetdeck", "config")


@dataclass
class Settings:
    url: str
    token: str
    ca_bundle: Optional[str] = None
    profile: str = DEFAULT_PROFILE
    source: str = ""  # where the token came from, for error messages
    project: Optional[str] = None  # the project names are looked up in, when they are in several


def read_profiles(path: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, default_section="fleetdeck-no-defaults")
    if not os.path.exists(path):
        return parser
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh, source=path)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise CliError(f"Cannot read the config file {path}: {exc}", USAGE) from None
    for section in parser.sections():
        unknown = sorted(set(parser[section]) - set(KEYS))
        if unknown:
            raise CliError(
                f"{path}: unknown key(s) {', '.join(unknown)} in [{section}]; the keys are {', '.join(KEYS)}",
                USAGE,
            )
    return parser


def _warn_if_readable(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):  # novermin: bit flags
        print(
            f"fleetdeck: warning: {path} holds a token and is readable by others; run: chmod 600 {path}",
            file=sys.stderr,
        )


def _token_from_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise CliError(f"Cannot read FLEETDECK_TOKEN_FILE {path}: {exc.strerror}", USAGE) from None


def resolve(
    url: Optional[str] = None,
    profile: Optional[str] = None,
    ca_bundle: Optional[str] = None,
    project: Optional[str] = None,
) -> Settings:
    """The settings a command runs with; raise a usage error that says how to configure them."""
    env = os.environ
    profile = profile or env.get("FLEETDECK_PROFILE") or DEFAULT_PROFILE
    path = config_path()
    stored: Dict[str, str] = {}
    profiles = read_profiles(path)
    if profiles.has_section(profile):
        stored = dict(profiles[profile])
        if stored.get("token"):
            _warn_if_readable(path)
    elif profile != DEFAULT_PROFILE:
        raise CliError(
            f"No profile [{profile}] in {path}; create it with: fleetdeck configure --profile {profile}",
            USAGE,
        )

    token, source = "", ""
    if env.get("FLEETDECK_TOKEN"):
        token, source = env["FLEETDECK_TOKEN"].strip(), "FLEETDECK_TOKEN"
    elif env.get("FLEETDECK_TOKEN_FILE"):
        token, source = _token_from_file(env["FLEETDECK_TOKEN_FILE"]), "FLEETDECK_TOKEN_FILE"
    elif stored.get("token"):
        token, source = stored["token"].strip(), f"{path} [{profile}]"
    server = (url or env.get("FLEETDECK_URL") or stored.get("url") or "").strip()
    if not server:
        raise CliError(
            "No Fleetdeck server configured: pass --url, set FLEETDECK_URL, or run `fleetdeck configure`",
            USAGE,
        )
    if not token:
        raise CliError(
            "No API token: set FLEETDECK_TOKEN (or FLEETDECK_TOKEN_FILE), or run `fleetdeck configure`. "
            f"Create a personal token at {server.rstrip('/')}/profile/tokens/",
            USAGE,
        )
    bundle = ca_bundle or env.get("FLEETDECK_CA_BUNDLE") or stored.get("ca_bundle") or None
    project = (project or env.get("FLEETDECK_PROJECT") or stored.get("project") or "").strip() or None
    return Settings(
        url=server.rstrip("/"), token=token, ca_bundle=bundle, profile=profile, source=source, project=project
    )


def save_profile(path: str, profile: str, values: Dict[str, str]) -> None:
    """Write one profile, keeping the others; the file is created 0600 and replaced atomically."""
    profiles = read_profiles(path)
    if not profiles.has_section(profile):
        profiles.add_section(profile)
    for key, value in values.items():
        if value:
            profiles[profile][key] = value
        else:
            profiles.remove_option(profile, key)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # novermin: bit flags
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            profiles.write(fh)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
