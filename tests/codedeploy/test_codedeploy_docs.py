"""docs/codedeploy-api.md's table of operations says the truth: it lists exactly the operations of
botocore's CodeDeploy model, and those it calls supported or partial are the ones the endpoint routes."""

from __future__ import annotations

import re
from pathlib import Path

from deployments.codedeploy import protocol, registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "codedeploy-api.md"
ROW = re.compile(r"^\| (?P<names>[A-Za-z, ]+) \| (?P<status>supported|partial|not supported) \|")


def table() -> dict[str, str]:
    """{operation: status} from the table's rows; an operation listed twice fails here."""
    found: dict[str, str] = {}
    for line in DOC.read_text().splitlines():
        if match := ROW.match(line):
            for name in (n.strip() for n in match["names"].split(",")):
                assert name not in found, f"{name} is listed twice"
                found[name] = match["status"]
    return found


def test_the_table_lists_exactly_the_models_operations():
    assert sorted(table()) == sorted(protocol.service_model().operation_names)


def test_what_the_table_calls_supported_is_routed_and_nothing_else_is():
    routed = set(registry.load())
    listed = table()
    assert {name for name, status in listed.items() if status != "not supported"} == routed
