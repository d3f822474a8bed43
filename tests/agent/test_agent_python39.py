"""The agent and the CLI run on the hosts' Python, 3.9 or newer (Amazon Linux 2023 and RHEL 9 ship 3.9),
while the server and this suite run on 3.11: keep their sources to what 3.9 accepts."""

from __future__ import annotations

import ast
import subprocess
import sys
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


# The grammar check above cannot see runtime-only 3.10 features such as `isinstance(v, str | int)`, which
# parse on 3.9 and raise only when they run. vermin knows each feature's minimum version; union types
# need `--feature union-types`, since vermin cannot tell `a | b` on types from `a | b` on ints by itself
# (bit flags carry a `# novermin` comment for that reason).
VERMIN = [
    str(Path(sys.executable).with_name("vermin")),
    "--target=3.9-",
    "--feature",
    "union-types",
    "--violations",
    "--no-tips",
]


def _vermin(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*VERMIN, *map(str, paths)], capture_output=True, text=True, check=False)


def test_vermin_finds_nothing_newer_than_python_39_in_the_agent_and_the_cli():
    result = _vermin(AGENT_DIR / "fleetdeck_agent", AGENT_DIR / "fleetdeck_cli")
    assert result.returncode == 0, result.stdout + result.stderr


def test_vermin_catches_a_union_type_used_at_run_time(tmp_path):
    (tmp_path / "runtime_union.py").write_text("def f(v):\n    return isinstance(v, str | int)\n")
    result = _vermin(tmp_path / "runtime_union.py")
    assert result.returncode != 0 and "union types" in result.stdout, result.stdout + result.stderr
