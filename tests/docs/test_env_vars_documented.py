"""Every FLEETDECK_* variable the code reads is documented, and every documented one is read.

The server, agent, CLI, install script, systemd units and Makefile are scanned for the places that
*read* a variable (``env_int("FLEETDECK_X")``, ``os.environ.get(...)``, ``"X" in os.environ``,
``${FLEETDECK_X}`` in shell); variables the agent only *sets* for hook scripts do not count. The
README's tables document what the product reads; ``tests/README.md`` documents what only the suite
reads. A new variable without a row, or a row for a variable nothing reads, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("config", "core", "projects", "deployments", "integrations", "dashboard", "agent", "deploy")
PY_READ = re.compile(
    r"""(?:\benv_\w+|\benviron\.get|\bgetenv|\benv|\benviron|\benv\.get)\s*[(\[]\s*["'](FLEETDECK_[A-Z0-9_]+)["']"""
    r"""|["'](FLEETDECK_[A-Z0-9_]+)["']\s+(?:not\s+)?in\s+(?:os\.)?environ"""
)
SH_READ = re.compile(r"\$\{?(FLEETDECK_[A-Z0-9_]+)")
# A family of variables read by prefix (core.env.env_prefixed), documented as PREFIX<NAME>.
PREFIXED = re.compile(r"""env_prefixed\(\s*["'](FLEETDECK_[A-Z0-9_]+_)["']""")
DOCUMENTED_ALL = re.compile(r"`(FLEETDECK_[A-Z0-9_]+(?:<NAME>)?)`")


def reads(paths: list[Path]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        text = path.read_text(errors="replace")
        if path.suffix == ".py":
            names = [m.group(1) or m.group(2) for m in PY_READ.finditer(text)]
            names = [name for name in names if not name.endswith("_")]  # a prefix: PREFIXED below
        else:
            names = [m.group(1) for m in SH_READ.finditer(text)]
        names += [m.group(1) + "<NAME>" for m in PREFIXED.finditer(text)]
        for name in names:
            found.setdefault(name, set()).add(path.name)
    return found


def files(folders, suffixes=(".py", ".sh", ".service", "")) -> list[Path]:
    out = []
    for folder in folders:
        base = ROOT / folder
        candidates = [base] if base.is_file() else base.rglob("*")
        for path in candidates:
            if (
                path.is_file()
                and (path.suffix in suffixes or path.name == "Makefile")
                and "migrations" not in path.parts
                and ".venv" not in path.parts
                and "__pycache__" not in path.parts
            ):
                out.append(path)
    return out


def documented_in(doc: Path) -> set[str]:
    """Variables named in the first column of a table row of `doc` (one row may name several)."""
    names = set()
    for row in (line for line in doc.read_text().splitlines() if line.startswith("| `FLEETDECK_")):
        first_cell = row.split("|")[1]
        names |= set(DOCUMENTED_ALL.findall(first_cell))
    return names


def product_reads() -> dict[str, set[str]]:
    return reads([*files(PRODUCT), ROOT / "Makefile"])


def suite_reads() -> dict[str, set[str]]:
    return reads([p for p in files(["tests", "bench", ".ci"]) if p.parent.name != "docs"])


def test_every_variable_the_product_reads_has_a_row_in_the_readme():
    readme = documented_in(ROOT / "README.md")
    missing = {name: sorted(where) for name, where in product_reads().items() if name not in readme}
    assert not missing, f"add a row to the README's configuration tables for: {missing}"


def test_every_variable_in_the_readme_is_read_by_the_product():
    read = set(product_reads())
    stale = sorted(documented_in(ROOT / "README.md") - read)
    assert not stale, f"the README documents variables nothing reads: {stale}"


def test_variables_only_the_suite_reads_are_in_the_tests_readme():
    product = set(product_reads())
    only_suite = {
        name
        for name in suite_reads()
        if name not in product and not name.startswith("FLEETDECK_TRAFFIC_COMMAND_")
    }
    documented = documented_in(ROOT / "tests" / "README.md")
    assert sorted(only_suite - documented) == [], "add these to tests/README.md"
    assert sorted(documented - only_suite) == [], "tests/README.md lists variables the suite does not read"


def test_the_scanner_finds_reads_and_ignores_variables_set_for_hooks(tmp_path):
    """The scan itself can fail: a planted read is found, a variable set for a hook script is not."""
    (tmp_path / "a.py").write_text(
        'x = env_int("FLEETDECK_PLANTED", 3)\n'
        'if "FLEETDECK_OTHER" in os.environ: pass\n'
        'hook_env = {"FLEETDECK_LIFECYCLE_EVENT": event}\n'
        'TRAFFIC = env_prefixed("FLEETDECK_ROUTER_")\n'
    )
    (tmp_path / "b.sh").write_text("X=${FLEETDECK_SHELL_READ:-1}\necho FLEETDECK_NOT_READ\n")
    found = reads([tmp_path / "a.py", tmp_path / "b.sh"])
    assert set(found) == {
        "FLEETDECK_PLANTED",
        "FLEETDECK_OTHER",
        "FLEETDECK_ROUTER_<NAME>",
        "FLEETDECK_SHELL_READ",
    }
