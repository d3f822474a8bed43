"""Argument parsing: --help everywhere, required options, and global options on either side."""

from __future__ import annotations

import pytest
from fleetdeck_cli.cli import build_parser, main

COMMANDS = [
    "configure",
    "push",
    "plan",
    "deploy",
    "status",
    "wait",
    "stop",
    "continue",
    "deployments",
    "revisions",
    "logs",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: fleetdeck {command}")
    assert "exit codes: 0 success" in out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "push" in capsys.readouterr().err


def test_deploy_needs_a_revision_or_latest_but_not_both(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["deploy", "-a", "shop", "-g", "web"])
    assert exit_info.value.code == 2
    assert "one of the arguments --revision/-r --latest is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["deploy", "-a", "shop", "-g", "web", "--revision", "3", "--latest"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_push_needs_an_application_and_a_source(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["push", "--source", "."])
    assert exit_info.value.code == 2
    assert "--application/-a" in capsys.readouterr().err


def test_global_options_go_before_or_after_the_command():
    parser = build_parser()
    before = parser.parse_args(["--url", "https://a.example", "--json", "status", "d-X"])
    after = parser.parse_args(["status", "d-X", "--url", "https://a.example", "--json"])
    assert (before.url, before.json) == (after.url, after.json) == ("https://a.example", True)
    # A value given before the command survives the command's own (unset) copy of the option.
    assert parser.parse_args(["--profile", "prod", "logs", "d-X", "-f"]).profile == "prod"


def test_file_exists_behavior_is_checked_and_case_insensitive():
    args = build_parser().parse_args(
        ["deploy", "-a", "s", "-g", "w", "--latest", "--file-exists-behavior", "overwrite"]
    )
    assert args.file_exists_behavior == "OVERWRITE"
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["deploy", "-a", "s", "-g", "w", "--latest", "--file-exists-behavior", "MERGE"]
        )
