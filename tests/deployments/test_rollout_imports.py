"""The rollout core's shape: no import cycle inside `deployments`, tasks sent by name from one place,
no module handed another module, no private step reached across modules, no module over ~500 lines.

Each rule is checked on the tree as it is, and the cycle check is also shown to fail on a planted cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLLOUT = ROOT / "deployments" / "rollout"
TASK_SENDING = {"delay", "apply_async", "send_task", "signature", "s", "si"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("deployments", cache_dir=None)


def cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One chain per import that is part of a cycle between modules of `deployments`."""
    found, seen = [], set()
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back and frozenset(back) not in seen:
                seen.add(frozenset(back))
                found.append((module, *back))
    return found


def rollout_modules() -> list[Path]:
    return sorted(ROLLOUT.glob("*.py"))


def test_no_module_of_deployments_is_part_of_an_import_cycle(graph):
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_planted_cycle():
    graph = grimp.build_graph("deployments", cache_dir=None)  # a graph of its own: the plant stays here
    # A step that called back into the strategy that calls it: the circle the rollout core used to be.
    graph.add_import(importer="deployments.rollout.steps", imported="deployments.rollout.bluegreen")
    found = cycles(graph)
    assert found, "a planted cycle went unnoticed"
    assert any(
        "deployments.rollout.steps" in chain and "deployments.rollout.bluegreen" in chain for chain in found
    )


def test_no_rollout_module_imports_the_tasks_module(graph):
    importers = {
        m
        for m in graph.find_modules_that_directly_import("deployments.tasks")
        if m.startswith("deployments.rollout")
    }
    assert importers == set()
    reaching = [
        m
        for m in graph.find_children("deployments.rollout")
        if graph.chain_exists(importer=m, imported="deployments.tasks")
    ]
    assert reaching == []


def test_only_dispatch_sends_tasks():
    """Every Celery send of the rollout core goes through `dispatch` (by task name)."""
    senders = {}
    for path in rollout_modules():
        if path.name == "dispatch.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in TASK_SENDING
            ):
                senders.setdefault(path.name, []).append(f"line {node.lineno}: .{node.func.attr}(")
    assert senders == {}


def test_no_module_is_handed_another_module():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "deployments").rglob("*.py")
        if "sys.modules" in path.read_text() or "ModuleType" in path.read_text()
    ]
    assert offenders == []


def test_no_rollout_module_reaches_into_another_modules_private_names():
    reached = []
    for path in rollout_modules():
        tree = ast.parse(path.read_text())
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name.startswith("_") and alias.name != "__future__":
                        reached.append(f"{path.name}: from {node.module or '.'} import {alias.name}")
                    modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                modules.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
            ):
                reached.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert reached == []


@pytest.mark.parametrize("path", rollout_modules(), ids=lambda p: p.name)
def test_each_rollout_module_stays_small(path):
    assert len(path.read_text().splitlines()) <= 500
