"""Helpers shared by test folders (imported by name: tests/ is on sys.path)."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, what: str) -> None:
    """Skip on a laptop that lacks a service; in CI a missing service is a failure, never a skip."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available")
