"""Hostile appspecs: whatever the text, parse_appspec returns an AppSpec or raises AppSpecError.

Property-based (hypothesis, bounded examples, no deadline) plus fixed worst cases: deep nesting,
alias bombs and wrong types in every field. An error always names the file it was given.
"""

from __future__ import annotations

import copy
import os

import pytest
import yaml
from fleetdeck_agent.appspec import MAX_TIMEOUT, AppSpec, AppSpecError, parse_appspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FILENAME = "bundle/appspec.yml"
FUZZ = settings(
    max_examples=int(os.environ.get("FLEETDECK_FUZZ_EXAMPLES", "300")),  # raise it to fuzz longer
    deadline=None,
    # The suite replays the same examples every run (no flaky CI); `make fuzz` explores new ones.
    derandomize=os.environ.get("FLEETDECK_FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow],
)

VALID = {
    "version": 0.0,
    "os": "linux",
    "file_exists_behavior": "OVERWRITE",
    "files": [{"source": "app", "destination": "/opt/app"}],
    "permissions": [
        {
            "object": "/opt/app",
            "pattern": "**",
            "except": ["*.log"],
            "owner": "www-data",
            "group": "www-data",
            "mode": "644",
            "acls": ["u:bob:rw"],
            "context": {"user": "unconfined_u", "type": "httpd_sys_content_t", "range": "s0"},
            "type": ["file"],
        }
    ],
    "hooks": {"BeforeInstall": [{"location": "hooks/before.sh", "timeout": 60, "runas": "root"}]},
}

# Every place a value sits in VALID, as a path of keys and indexes.
FIELD_PATHS = [
    ("version",),
    ("os",),
    ("file_exists_behavior",),
    ("files",),
    ("files", 0),
    *[("files", 0, key) for key in VALID["files"][0]],
    ("permissions",),
    ("permissions", 0),
    *[("permissions", 0, key) for key in VALID["permissions"][0]],
    *[("permissions", 0, "context", key) for key in VALID["permissions"][0]["context"]],
    ("hooks",),
    ("hooks", "BeforeInstall"),
    ("hooks", "BeforeInstall", 0),
    *[("hooks", "BeforeInstall", 0, key) for key in VALID["hooks"]["BeforeInstall"][0]],
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=20),
    st.dates(),
)
yaml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers(), st.booleans()), inner, max_size=4),
    ),
    max_leaves=20,
)


def parse(text: str) -> AppSpec | AppSpecError:
    """The only two outcomes allowed; anything else escapes and fails the test."""
    try:
        return parse_appspec(text, FILENAME)
    except AppSpecError as error:
        assert error.filename == FILENAME
        assert str(error).startswith(FILENAME)
        assert error.message.strip()
        assert error.line is None or error.line >= 1
        return error


def set_path(document: dict, path: tuple, value) -> dict:
    document = copy.deepcopy(document)
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


def test_the_valid_document_parses():
    spec = parse(yaml.safe_dump(VALID))
    assert isinstance(spec, AppSpec)
    assert spec.permissions[0].mode == "644"


@FUZZ
@given(st.text(max_size=400))
def test_random_text_is_parsed_or_refused(text):
    parse(text)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_decoded_as_the_agent_does_are_parsed_or_refused(data):
    parse(data.decode("utf-8", "replace"))


@FUZZ
@given(yaml_values)
def test_random_yaml_documents_are_parsed_or_refused(value):
    parse(yaml.safe_dump(value, allow_unicode=True))


# What each field may hold. A value of any other kind must be refused, never read as something else:
# a list-valued `runas` silently ignored runs the hook as root.
SCALAR, LIST, MAPPING = "scalar", "list", "mapping"
LISTS = {("files",), ("permissions",), ("hooks", "BeforeInstall")}
MAPPINGS = {
    ("files", 0),
    ("permissions", 0),
    ("permissions", 0, "context"),
    ("hooks",),
    ("hooks", "BeforeInstall", 0),
}
SCALAR_OR_LIST = {("permissions", 0, key) for key in ("except", "acls", "type")}


def allowed_kinds(path: tuple) -> set:
    if path in LISTS:
        return {LIST}
    if path in MAPPINGS:
        return {MAPPING}
    if path in SCALAR_OR_LIST:
        return {SCALAR, LIST}
    return {SCALAR}


def kind_of(value) -> str | None:
    if value is None:
        return None  # null is "not given", which optional fields accept
    return MAPPING if isinstance(value, dict) else LIST if isinstance(value, list) else SCALAR


def test_every_field_path_has_a_shape():
    assert all(allowed_kinds(path) for path in FIELD_PATHS)
    assert ("hooks", "BeforeInstall", 0, "runas") in FIELD_PATHS


@FUZZ
@given(st.sampled_from(FIELD_PATHS), yaml_values)
def test_a_wrong_type_in_any_field_is_refused_with_a_line(path, value):
    document = set_path(VALID, path, value)
    outcome = parse(yaml.safe_dump(document, allow_unicode=True))
    kind = kind_of(value)
    if kind is not None and kind not in allowed_kinds(path):
        assert isinstance(outcome, AppSpecError), f"{path} accepted a {kind}: {value!r}"
    if isinstance(outcome, AppSpecError) and path[0] in ("files", "permissions", "hooks") and len(path) > 1:
        # A problem inside a section points at a line of the file.
        assert outcome.line is not None, outcome


@pytest.mark.parametrize("path", [p for p in FIELD_PATHS if allowed_kinds(p) == {SCALAR}], ids=str)
@pytest.mark.parametrize("value", [["root"], ["a", "b"], {"name": "root"}], ids=["list", "pair", "mapping"])
def test_a_list_or_a_mapping_where_a_string_belongs_is_refused(path, value):
    outcome = parse(yaml.safe_dump(set_path(VALID, path, value)))
    assert isinstance(outcome, AppSpecError), f"{path} accepted {value!r}"


@FUZZ
@given(
    st.sampled_from(FIELD_PATHS),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30),
)
def test_any_string_in_any_field_is_parsed_or_refused(path, value):
    parse(yaml.safe_dump(set_path(VALID, path, value), allow_unicode=True))


@FUZZ
@given(st.text(max_size=30))
def test_timeouts_and_modes_accept_only_ascii_digits_in_range(value):
    hooks = set_path(VALID, ("hooks", "BeforeInstall", 0, "timeout"), value)
    outcome = parse(yaml.safe_dump(hooks, allow_unicode=True))
    if isinstance(outcome, AppSpec):
        timeout = outcome.scripts_for("BeforeInstall")[0].timeout
        assert value.strip().isascii() and str(timeout) == value.strip()
        assert 1 <= timeout <= MAX_TIMEOUT
    modes = set_path(VALID, ("permissions", 0, "mode"), value)
    outcome = parse(yaml.safe_dump(modes, allow_unicode=True))
    if isinstance(outcome, AppSpec):
        mode = outcome.permissions[0].mode
        assert mode.isascii() and set(mode) <= set("01234567") and 3 <= len(mode) <= 4
        assert 0 <= outcome.permissions[0].mode_int <= 0o7777


@pytest.mark.parametrize("depth", [64, 1_000, 20_000])
@pytest.mark.parametrize("kind", ["list", "mapping", "block"])
def test_deep_nesting_is_refused_cleanly(depth, kind):
    if kind == "list":
        nested = "[" * depth + "]" * depth
    elif kind == "mapping":
        nested = "{a: " * depth + "1" + "}" * depth
    else:
        nested = "\n" + "".join(" " * level + "- \n" for level in range(min(depth, 2_000)))
    outcome = parse(f"version: 0.0\nos: linux\nfiles: {nested}\n")
    assert isinstance(outcome, AppSpecError)


def billion_laughs(levels: int = 9) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "where",
    [
        "files: *l8",
        "permissions: *l8",
        "permissions:\n  - object: /opt\n    except: *l8\n    acls: *l8",
        "hooks: {BeforeInstall: *l8}",
        "hooks:\n  BeforeInstall:\n    - location: *l8",
        "file_exists_behavior: *l8",
        "unrelated: *l8",
    ],
)
def test_an_alias_bomb_is_never_expanded(where):
    """9**9 (387 million) leaves if expanded; the parser walks the node graph, so it answers at once."""
    parse(f"{billion_laughs()}version: 0.0\nos: linux\n{where}\n")


def test_many_scripts_whose_timeouts_add_up_past_the_limit_are_refused():
    scripts = "".join(f"    - location: s{n}.sh\n      timeout: {MAX_TIMEOUT}\n" for n in range(3))
    outcome = parse(f"version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n{scripts}")
    assert isinstance(outcome, AppSpecError)
    assert outcome.line == 4
    assert "add up to" in outcome.message


@pytest.mark.parametrize("value", ["99999999999999999999999999999", "9" * 5000, "١٢", "604801", "0"])
def test_a_huge_zero_or_non_ascii_timeout_is_refused_on_its_line(value):
    outcome = parse(
        f"version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: {value}\n"
    )
    assert isinstance(outcome, AppSpecError)
    assert outcome.line == 6
    assert "invalid timeout value" in outcome.message


@pytest.mark.parametrize(
    "value", ["\u0661\u0662\u0663", "\uff16\uff14\uff14"]
)  # Arabic-Indic and fullwidth digits
def test_a_mode_in_non_ascii_digits_is_refused(value):
    outcome = parse(f"version: 0.0\nos: linux\npermissions:\n  - object: /opt\n    mode: '{value}'\n")
    assert isinstance(outcome, AppSpecError)
    assert outcome.line == 5
