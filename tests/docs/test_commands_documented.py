"""Every management command, CLI subcommand and flag, and make target appears in the docs.

The commands are found where Django, argparse and make define them (not in a list kept here), so a
new command or flag without a word in the docs fails this test.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from fleetdeck_agent.cli import build_parser as agent_parser
from fleetdeck_cli.cli import build_parser as cli_parser

ROOT = Path(__file__).resolve().parents[2]
APPS = ("projects", "deployments", "integrations", "dashboard")


def docs_text() -> str:
    files = [ROOT / "README.md", ROOT / "agent" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(path.read_text() for path in files if path.exists())


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(path of subcommand names, its parser) for every subcommand, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from subcommands(sub, (*prefix, name))


def long_flags(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


def test_every_management_command_is_documented():
    text = docs_text()
    commands = sorted(
        path.stem
        for app in APPS
        for path in (ROOT / app / "management" / "commands").glob("*.py")
        if not path.name.startswith("_")
    )
    assert commands, "the scan found the commands"
    missing = [name for name in commands if not re.search(rf"manage\.py {name}\b", text)]
    assert missing == [], "document `manage.py NAME` for these"


def check_cli(parser: argparse.ArgumentParser, program: str, doc: Path) -> list[str]:
    text = doc.read_text()
    missing = []
    for path, sub in subcommands(parser):
        words = " ".join(path)
        if not re.search(rf"{re.escape(program)} {re.escape(words)}\b", text):
            missing.append(f"{program} {words}")
        missing += [f"{program} {words} {flag}" for flag in sorted(long_flags(sub)) if flag not in text]
    missing += [f"{program} {flag}" for flag in sorted(long_flags(parser)) if flag not in text]
    return missing


def test_every_fleetdeck_subcommand_and_flag_is_in_the_cli_docs():
    assert check_cli(cli_parser(), "fleetdeck", ROOT / "docs" / "cli.md") == []


def test_every_agent_subcommand_and_flag_is_in_the_agent_docs():
    assert check_cli(agent_parser(), "fleetdeck-agent", ROOT / "docs" / "agent.md") == []


def test_every_make_target_is_documented():
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    targets = phony.group(1).split()
    assert "test" in targets and "demo" in targets
    text = docs_text()
    assert [t for t in targets if f"make {t}" not in text] == []
