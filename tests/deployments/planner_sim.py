"""A rollout simulator that drives planner.next_step the way engine.advance does.

Hosts start in order. After each step the simulator either starts what the planner asks for, skips
the pending hosts on a halt, or finishes one running host with its scripted outcome (the oldest by
default; `pick` chooses another, so property tests can reorder completions). It records what the
invariants need at every point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from deployments import planner


def names(n: int) -> list[str]:
    return [f"h{i:02d}" for i in range(n)]


@dataclass
class Run:
    outcome: str = ""
    halted: bool = False
    minimum: int = 0
    attempted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0
    max_in_progress: int = 0
    min_healthy_after_start: int | None = None
    starts: list[int] = field(default_factory=list)
    failed_when_halted: int | None = None


def simulate(
    n: int,
    rule: planner.HealthRule,
    outcomes: Sequence[str],
    pick: Callable[[int], int] | None = None,
) -> Run:
    """outcomes[i] is what the i-th started host reports ("Succeeded" or "Failed")."""
    assert len(outcomes) == n
    hosts = names(n)
    m = rule.minimum_healthy(n)
    run = Run(minimum=m)
    pending = list(hosts)
    running: list[int] = []
    for _ in range(10 * n + 10):
        step = planner.next_step(
            fleet_size=n,
            minimum_healthy=m,
            succeeded=run.succeeded,
            failed=run.failed,
            in_progress=len(running),
            pending=len(pending),
        )
        if step.outcome:
            assert not running and not pending, "an outcome while hosts are still running"
            run.outcome = step.outcome
            return run
        if step.halt:
            assert not run.halted, "halted twice"
            run.halted = True
            run.failed_when_halted = run.failed
            run.skipped, pending = pending, []
            continue
        if step.start:
            assert step.start <= len(pending)
            assert not run.halted, "started a host after halting"
            for _ in range(step.start):
                name = pending.pop(0)
                running.append(hosts.index(name))
                run.attempted.append(name)
            run.starts.append(step.start)
            run.max_in_progress = max(run.max_in_progress, len(running))
            healthy = n - run.failed - len(running)
            run.min_healthy_after_start = min(healthy, run.min_healthy_after_start or healthy)
            continue
        assert running, f"stuck: nothing running, nothing started, no outcome ({step})"
        index = running.pop(pick(len(running)) if pick else 0)
        if outcomes[index] == "Succeeded":
            run.succeeded += 1
        else:
            run.failed += 1
    raise AssertionError("the rollout never ended")
