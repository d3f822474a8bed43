"""`fleetdeck-agent` command line: register, run, local.

Each command imports what it needs only when it runs, to keep the idle agent small.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Dict, List, Optional

from fleetdeck_agent import __version__

log = logging.getLogger("fleetdeck_agent")


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s fleetdeck-agent: %(message)s",
    )


def parse_tags(values: List[str]) -> Dict[str, str]:
    tags: Dict[str, str] = {}
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, tag_value = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"Tags look like key=value (got {item!r})")
            tags[key.strip()] = tag_value.strip()
    return tags


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fleetdeck-agent", description="Fleetdeck host agent")
    parser.add_argument("--version", action="version", version=f"fleetdeck-agent {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command")

    env = os.environ.get
    reg = sub.add_parser("register", help="register this host with a Fleetdeck server and write the config")
    reg.add_argument("--server", default=env("FLEETDECK_SERVER"), help="server URL [FLEETDECK_SERVER]")
    reg.add_argument(
        "--token",
        default=env("FLEETDECK_REGISTRATION_TOKEN"),
        help="registration token [FLEETDECK_REGISTRATION_TOKEN]",
    )
    reg.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="instance tag, repeatable [FLEETDECK_AGENT_TAGS=k=v,k=v]",
    )
    reg.add_argument("--name", default=env("FLEETDECK_AGENT_NAME"), help="instance name (default: hostname)")
    reg.add_argument(
        "--root", default=env("FLEETDECK_AGENT_ROOT"), help="deployment root [FLEETDECK_AGENT_ROOT]"
    )
    reg.add_argument("--config", default=None, help="config path [FLEETDECK_AGENT_CONFIG]")
    reg.add_argument("--ca-bundle", default=env("FLEETDECK_CA_BUNDLE"), help="CA bundle for the server's TLS")

    run = sub.add_parser("run", help="poll the server and run lifecycle events")
    run.add_argument("--config", default=None, help="config path [FLEETDECK_AGENT_CONFIG]")

    loc = sub.add_parser("local", help="run a bundle's lifecycle on this machine (like codedeploy-local)")
    loc.add_argument("--bundle", required=True, help="bundle archive or directory")
    loc.add_argument("--deployment-group", default=None, help="deployment group name")
    loc.add_argument("--events", default=None, help="comma-separated lifecycle events to run")
    loc.add_argument(
        "--file-exists-behavior", default=None, choices=["DISALLOW", "OVERWRITE", "RETAIN"], type=str.upper
    )
    loc.add_argument(
        "--root", default=env("FLEETDECK_AGENT_ROOT"), help="deployment root [FLEETDECK_AGENT_ROOT]"
    )
    loc.add_argument("--type", default=None, choices=["zip", "tar", "tgz", "directory"], dest="bundle_type")
    loc.add_argument("--quiet", action="store_true", help="do not echo script output")

    ado = sub.add_parser(
        "adopt-codedeploy",
        help="take over this host's CodeDeploy agent state, so the first deployment replaces its files",
    )
    ado.add_argument(
        "--root",
        default="/opt/codedeploy-agent/deployment-root",
        help="the CodeDeploy agent's deployment root",
    )
    ado.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="CODEDEPLOY_GROUP_ID=FLEETDECK_GROUP_ID",
        help="a CodeDeploy deployment group id and the id (group_id) of the Fleetdeck group taking it over",
    )
    ado.add_argument("--config", default=None, help="the agent's config, for its deployment root")
    ado.add_argument(
        "--fleetdeck-root", default=None, help="Fleetdeck's deployment root (default: the config's)"
    )
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    _setup_logging(args.verbose)
    try:
        if args.command == "register":
            return cmd_register(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "adopt-codedeploy":
            return cmd_adopt(args)
        return cmd_local(args)
    except KeyboardInterrupt:
        return 130


def cmd_register(args: argparse.Namespace) -> int:
    import platform
    import socket

    from fleetdeck_agent.client import ApiError, Client, TransportError
    from fleetdeck_agent.config import Config, ConfigError, config_path, env_bool, save_config
    from fleetdeck_agent.paths import DEFAULT_ROOT

    if not args.server or not args.token:
        log.error(
            "register needs --server and --token (or FLEETDECK_SERVER and FLEETDECK_REGISTRATION_TOKEN)"
        )
        return 2
    path = config_path(args.config)
    try:
        tags = parse_tags([os.environ.get("FLEETDECK_AGENT_TAGS", ""), *args.tag])
        ec2_enabled = env_bool("FLEETDECK_AGENT_EC2_METADATA", True)
        # A host registering again presents its current credential, so it keeps its identity.
        current = _current_credential(path, args.server)
        client = Client(args.server, credential=current, ca_bundle=args.ca_bundle, timeout=30)
    except (ValueError, ConfigError) as exc:
        log.error("%s", exc)
        return 2
    hostname = socket.getfqdn() or socket.gethostname()
    name = args.name or socket.gethostname()
    ec2_id = None
    if ec2_enabled:
        from fleetdeck_agent import ec2

        ec2_id = ec2.instance_id()
        log.debug("EC2 instance id from %s: %s", ec2.metadata_url(), ec2_id or "none (not on EC2)")
    body = {
        "token": args.token,
        "name": name,
        "hostname": hostname,
        "tags": tags,
        "platform": platform.system().lower(),
        "agent_version": __version__,
        "ec2_instance_id": ec2_id,
    }
    try:
        _status, data = client.post("/agent/v1/register/", body, auth=current is not None)
    except TransportError as exc:
        log.error("Cannot reach the Fleetdeck server at %s: %s", args.server, exc)
        return 1
    except ApiError as exc:
        log.error("Registration refused by %s: %s", args.server, exc)
        return 1
    if not data.get("credential"):
        log.error("The server answered without a credential: %s", data)
        return 1
    config = Config(
        server=args.server.rstrip("/"),
        credential=data["credential"],
        name=data.get("name", name),
        instance_id=data.get("instance_id"),
        root=args.root or DEFAULT_ROOT,
        ca_bundle=os.path.abspath(args.ca_bundle) if args.ca_bundle else None,
        ec2_metadata=ec2_enabled,
    )
    try:
        save_config(config, path)
    except OSError as exc:
        log.error("Registered, but cannot write the config %s: %s", path, exc)
        return 1
    print(
        f"Registered {config.name} (instance {config.instance_id}) with {config.server}; "
        f"config written to {path}"
    )
    return 0


def _current_credential(path: str, server: str) -> Optional[str]:
    """The credential this host already holds for `server`, from the config register wrote; None
    when there is none, or it is for another server (the credential is never sent elsewhere)."""
    from fleetdeck_agent.config import ConfigError, load_config

    if not os.path.exists(path):
        return None
    try:
        config = load_config(path)
    except ConfigError as exc:
        log.warning("Not presenting a current credential: %s", exc)
        return None
    if config.server.rstrip("/") != server.rstrip("/"):
        return None
    log.info("Registering again as the host in %s (presenting its current credential)", path)
    return config.credential


def cmd_run(args: argparse.Namespace) -> int:
    from fleetdeck_agent.config import ConfigError, config_path, load_config

    path = config_path(args.config)
    try:
        config = load_config(path)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    from fleetdeck_agent.runner import run_agent

    return run_agent(config)


def cmd_local(args: argparse.Namespace) -> int:
    from fleetdeck_agent.local import DEFAULT_GROUP, LocalError, parse_events, run_local
    from fleetdeck_agent.paths import DEFAULT_ROOT

    try:
        events = parse_events(args.events)
        if args.events:
            chosen = ", ".join(events)
            print(f"Running {chosen} (DownloadBundle and Install always run, as in codedeploy-local)")
        return run_local(
            args.bundle,
            args.deployment_group or DEFAULT_GROUP,
            events,
            args.file_exists_behavior,
            args.root or DEFAULT_ROOT,
            args.bundle_type,
            show_output=not args.quiet,
        )
    except LocalError as exc:
        log.error("%s", exc)
        return 2
    except PermissionError as exc:
        log.error("%s (use --root to pick a writable deployment root)", exc)
        return 2


def cmd_adopt(args: argparse.Namespace) -> int:
    from fleetdeck_agent.adopt import AdoptError, adopt, codedeploy_groups
    from fleetdeck_agent.config import ConfigError, config_path, load_config
    from fleetdeck_agent.paths import DEFAULT_ROOT, DeploymentRoot

    root = args.fleetdeck_root or os.environ.get("FLEETDECK_AGENT_ROOT")
    if not root:
        path = config_path(args.config)
        try:
            root = load_config(path).root if os.path.exists(path) else DEFAULT_ROOT
        except ConfigError as exc:
            log.error("%s", exc)
            return 2
    try:
        if not args.group:
            groups = codedeploy_groups(args.root)
            print(f"CodeDeploy deployment groups under {args.root}:")
            for group, deployment in groups.items():
                print(f"  {group}  (last successful deployment: {deployment or 'none'})")
            log.error("Name each one to take over: --group CODEDEPLOY_GROUP_ID=FLEETDECK_GROUP_ID")
            return 2
        pairs = []
        for value in args.group:
            group, sep, fleetdeck_group = value.partition("=")
            if not sep or not group.strip() or not fleetdeck_group.strip():
                log.error("--group takes CODEDEPLOY_GROUP_ID=FLEETDECK_GROUP_ID (got %r)", value)
                return 2
            pairs.append((group.strip(), fleetdeck_group.strip()))
        for group, fleetdeck_group in pairs:
            adopt(args.root, DeploymentRoot(root), group, fleetdeck_group, print)
    except AdoptError as exc:
        log.error("%s", exc)
        return 1
    return 0
