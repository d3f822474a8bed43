"""docs/troubleshooting.md lists exactly the error codes the code can set, deployment and script ones.

A code counts as one the code can set when production code outside its choices module names it
(``ErrorCode.X`` or the value as a string, e.g. the planner's ``"NO_INSTANCES"``).
"""

from __future__ import annotations

import re
from pathlib import Path

from deployments.models.choices import ErrorCode, ScriptErrorCode

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "troubleshooting.md"
SERVER = ("deployments", "integrations", "dashboard", "projects", "core", "agent")


def table_codes(heading: str) -> list[str]:
    """The backticked codes in the first column of the table under `heading`."""
    text = DOC.read_text()
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Za-z_]+)` \|", section, re.MULTILINE)


def production_source() -> str:
    parts = []
    for folder in SERVER:
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts or path.name == "choices.py":
                continue
            parts.append(path.read_text())
    return "\n".join(parts)


def test_the_deployment_codes_table_lists_every_code_once():
    documented = table_codes("Deployment error codes")
    assert len(documented) == len(set(documented)), "a code is listed twice"
    assert sorted(documented) == sorted(ErrorCode.values)


def test_the_script_codes_table_lists_every_failure_code():
    documented = table_codes("Script error codes (per lifecycle event)")
    assert sorted(documented) == sorted(set(ScriptErrorCode.values) - {ScriptErrorCode.SUCCESS})


def test_every_code_is_one_the_code_sets():
    source = production_source()
    never_set = [
        code.value
        for code in [*ErrorCode, *ScriptErrorCode]
        if f"{type(code).__name__}.{code.name}" not in source and f'"{code.value}"' not in source
    ]
    assert never_set == [], "documented codes nothing sets: remove them or set them where they belong"
