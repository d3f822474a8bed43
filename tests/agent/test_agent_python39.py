"""The agent and the CLI run on the hosts' Python, 3.9 or newer (Amazon Linux 2023 and RHEL 9 ship 3.9),
while the server and this suite run on 3.11: keep their sources to what 3.9 accepts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT_DIR = Path(__file__).resolve().parents[2] / "agent"
SOURCES = sorted(p for p in AGENT_DIR.rglob("*.py") if "egg-info" not in str(p) and "build" not in p.parts)


def runtime_pep604_annotations(tree: ast.Module) -> list[int]:
    """Lines whose annotations use `X | Y`, which 3.9 evaluates (and rejects) without the future import."""
    lines = []
    for node in ast.walk(tree):
        for annotation in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if annotation is not None and any(
                isinstance(part, ast.BinOp) and isinstance(part.op, ast.BitOr)
                for part in ast.walk(annotation)
            ):
                lines.append(node.lineno)
    return lines


def test_there_are_sources_to_check():
    assert len(SOURCES) > 10
    assert {p.parent.name for p in SOURCES} >= {"fleetdeck_agent", "fleetdeck_cli"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(AGENT_DIR)))
def test_the_source_is_python_39(path):
    source = path.read_text()
    tree = ast.parse(source, filename=str(path), feature_version=(3, 9))
    if "from __future__ import annotations" not in source:
        assert runtime_pep604_annotations(tree) == [], f"{path}: `X | Y` annotations need 3.10"


def test_the_check_catches_310_syntax():
    with pytest.raises(SyntaxError):
        ast.parse("match x:\n    case 1:\n        pass\n", feature_version=(3, 9))
    assert runtime_pep604_annotations(ast.parse("def f(x: int | None) -> str | None: ...")) == [1, 1]
