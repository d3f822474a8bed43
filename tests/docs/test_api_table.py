"""docs/api.md's resources table names every path and method the REST API serves, and nothing else.

The API's own OpenAPI schema (drf-spectacular, generated from the URL configuration and the views) is
the reference; path parameters are compared by position, not by name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def normal(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.split("?", 1)[0])


def documented() -> set[tuple[str, str]]:
    text = (ROOT / "docs" / "api.md").read_text()
    pairs = set()
    for methods, path in re.findall(r"^\| `([A-Z/]+) (/api/v1/[^` ]*)`", text, re.MULTILINE):
        pairs |= {(method, normal(path)) for method in methods.split("/")}
    return pairs


@pytest.fixture
def served(db) -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), normal(path))
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
        if method.upper() in METHODS
    }


def test_every_served_path_and_method_is_in_the_table(served):
    assert sorted(served - documented()) == [], "add these to docs/api.md's resources table"


def test_the_table_names_nothing_the_api_does_not_serve(served):
    assert sorted(documented() - served) == [], "docs/api.md documents what the API does not serve"
