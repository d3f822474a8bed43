"""`fleetdeck` command line: argument parsing and dispatch. The commands live in `commands`.

Results (ids, plans, statuses, JSON) go to stdout; progress, hints and errors go to stderr, so
`REV=$(fleetdeck push ...)` captures just the revision id.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from fleetdeck_cli import __version__
from fleetdeck_cli.errors import INTERRUPTED, OK, USAGE, CliError

EPILOG = """\
The server and token come from --url / FLEETDECK_URL and FLEETDECK_TOKEN (or FLEETDECK_TOKEN_FILE),
else from the config file that `fleetdeck configure` writes (~/.config/fleetdeck/config); the project
from --project / FLEETDECK_PROJECT, else the profile's.

exit codes: 0 success, 1 error, 2 usage or invalid bundle, 3 deployment failed,
            4 deployment stopped, 5 timed out, 6 server unreachable, 7 token or role refused
"""


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name.

    SUPPRESS defaults keep the subcommand's copy from erasing a value given before the command name.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help="server base URL [FLEETDECK_URL]")
    common.add_argument(
        "--profile",
        default=argparse.SUPPRESS,
        help="config file profile [FLEETDECK_PROFILE, default: default]",
    )
    common.add_argument(
        "--ca-bundle", default=argparse.SUPPRESS, help="CA bundle for the server's TLS [FLEETDECK_CA_BUNDLE]"
    )
    common.add_argument(
        "--project",
        default=argparse.SUPPRESS,
        metavar="SLUG",
        help="the project an application name is in, when it is in several of yours "
        "[FLEETDECK_PROJECT, or the profile's project]",
    )
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON results")
    return common


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up waiting after this long (exit 5)",
    )
    parser.add_argument("--logs", action="store_true", help="also print hook output while waiting")
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress while waiting, only the summary"
    )


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="fleetdeck",
        description="Push revisions, deploy them and follow deployments on a Fleetdeck server.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"fleetdeck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, description: str = "") -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=description or help_text,
            parents=[common],
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    conf = command(
        "configure",
        "store the server URL and an API token in the config file (mode 0600)",
        "Store the server URL and an API token (a personal fdp_ token from /profile/tokens/, or one "
        "from `manage.py createapitoken`), and with --project a default project (--project '' removes "
        "it). Prompts for what is not given; checks the token (and the project) unless --no-verify.",
    )
    conf.add_argument("--token-stdin", action="store_true", help="read the token from standard input")
    conf.add_argument("--no-verify", action="store_true", help="do not check the token against the server")

    push = command(
        "push",
        "bundle a folder, check its appspec locally, upload it and print the revision id",
        "Bundle --source (a folder, or a zip/tar/tgz archive), check its appspec and hook scripts locally "
        "(nothing is uploaded if they are invalid), upload it as a new revision and print the revision id.",
    )
    push.add_argument("--application", "-a", required=True, help="application name")
    push.add_argument(
        "--source", "-s", required=True, help="folder (or archive) with appspec.yml at its root"
    )
    push.add_argument("--description", default="", help="revision description (e.g. the commit)")
    push.add_argument(
        "--s3",
        default="",
        metavar="s3://BUCKET/PREFIX",
        help="have the server store the bundle in S3 with the project's AWS connection (an S3 revision)",
    )
    push.add_argument(
        "--ignore-hidden-files", action="store_true", help="leave out files and folders named .*"
    )
    push.add_argument("--dry-run", action="store_true", help="only bundle and check; upload nothing")

    register = command(
        "register",
        "register a revision that stays in S3 or GitHub and print its id",
        "Register an archive in S3 or a commit of the project's GitHub repository as a new revision and "
        "print its id. The server checks, with the project's connection, that the object or commit "
        "exists (and the ETag, if given) before storing anything; the hosts download it when deployed.",
    )
    register.add_argument("--application", "-a", required=True, help="application name")
    where = register.add_mutually_exclusive_group(required=True)
    where.add_argument("--s3", metavar="s3://BUCKET/KEY", help="an archive in S3")
    where.add_argument("--github", metavar="OWNER/REPO", help="the project's connected GitHub repository")
    register.add_argument(
        "--bundle-type",
        choices=["zip", "tar", "tgz"],
        type=str.lower,
        default=None,
        help="with --s3: the archive's type (default: from the key's extension)",
    )
    register.add_argument(
        "--version", dest="s3_version", default="", help="with --s3: the S3 version id to pin"
    )
    register.add_argument("--etag", default="", help="with --s3: refuse the object unless it has this ETag")
    register.add_argument("--commit", default="", help="with --github: the commit id (7 to 40 hex digits)")
    register.add_argument("--description", default="", help="revision description")

    plan = command("plan", "print the rollout plan: which hosts go in which batch, and why")
    _target_options(plan)
    plan.add_argument("--revision", "-r", type=int, default=None, help="order hosts against this revision")

    deploy = command("deploy", "start a deployment; with --wait, follow it and exit with its result")
    _target_options(deploy)
    which = deploy.add_mutually_exclusive_group(required=True)
    which.add_argument("--revision", "-r", type=int, help="revision id (as printed by push)")
    which.add_argument("--latest", action="store_true", help="the application's newest revision")
    deploy.add_argument("--description", default="", help="deployment description")
    deploy.add_argument(
        "--file-exists-behavior", choices=["DISALLOW", "OVERWRITE", "RETAIN"], type=str.upper, default=None
    )
    deploy.add_argument(
        "--ignore-application-stop-failures",
        action="store_true",
        default=None,
        help="let ApplicationStop (and the Block traffic hooks) fail without failing the host",
    )
    deploy.add_argument("--wait", action="store_true", help="follow the deployment until it ends")
    _wait_options(deploy)

    status = command("status", "show a deployment: status, hosts and failing scripts")
    status.add_argument("deployment_id", metavar="DEPLOYMENT_ID")

    wait = command("wait", "follow a deployment until it ends; the exit code tells how it ended")
    wait.add_argument("deployment_id", metavar="DEPLOYMENT_ID")
    _wait_options(wait)

    stop = command("stop", "stop a deployment: unstarted hosts are skipped, running hooks finish")
    stop.add_argument("deployment_id", metavar="DEPLOYMENT_ID")
    stop.add_argument("--wait", action="store_true", help="wait until it has stopped")
    stop.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="give up waiting after this long"
    )

    cont = command(
        "continue", "reroute traffic now: for a blue/green deployment waiting in Ready for a go-ahead"
    )
    cont.add_argument("deployment_id", metavar="DEPLOYMENT_ID")

    listing = command("deployments", "list recent deployments, newest first")
    listing.add_argument("--application", "-a", default=None, help="only this application")
    listing.add_argument(
        "--group", "-g", default=None, help="only this deployment group (with --application)"
    )
    listing.add_argument(
        "--status",
        default=None,
        choices=["Created", "Queued", "InProgress", "Baking", "Ready", "Succeeded", "Failed", "Stopped"],
    )
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")

    revisions = command("revisions", "list an application's revisions, newest first")
    revisions.add_argument("--application", "-a", required=True, help="application name")
    revisions.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")

    logs = command("logs", "print the hook output of a deployment")
    logs.add_argument("deployment_id", metavar="DEPLOYMENT_ID")
    logs.add_argument("--instance", "-i", default=None, help="only this host")
    logs.add_argument("--event", "-e", default=None, help="only this lifecycle event (e.g. AfterInstall)")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new lines until the deployment ends"
    )
    return parser


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--application", "-a", required=True, help="application name")
    parser.add_argument("--group", "-g", required=True, help="deployment group name")
    parser.add_argument("--config", "-c", default=None, help="deployment config (default: the group's)")


def main(argv: Optional[List[str]] = None) -> int:
    from fleetdeck_cli import commands

    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in (
        ("url", None),
        ("profile", None),
        ("ca_bundle", None),
        ("project", None),
        ("json", False),
    ):
        if not hasattr(args, name):
            setattr(args, name, default)
    if args.command is None:
        parser.print_help(sys.stderr)
        return USAGE
    try:
        return getattr(commands, f"cmd_{args.command.replace('continue', 'continue_')}")(args)
    except CliError as exc:
        print(f"fleetdeck: error: {exc.message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # `fleetdeck logs ... | head`: the reader left; say nothing more, even at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
