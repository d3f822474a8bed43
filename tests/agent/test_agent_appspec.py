"""AppSpec parsing: CodeDeploy's rules, wording, file name and line number in every error."""

from __future__ import annotations

import pytest
from fleetdeck_agent.appspec import AppSpecError, parse_appspec

HEAD = "version: 0.0\nos: linux\n"


def error_for(text: str, filename: str = "appspec.yml") -> AppSpecError:
    with pytest.raises(AppSpecError) as info:
        parse_appspec(text, filename)
    return info.value


def test_it_parses_a_complete_appspec():
    spec = parse_appspec(
        HEAD
        + "file_exists_behavior: overwrite\n"
        + "files:\n  - source: app\n    destination: /srv/app\n"
        + "permissions:\n  - object: /srv/app\n    owner: www-data\n    mode: 640\n    type: [file]\n"
        + "hooks:\n  AfterInstall:\n    - location: scripts/a.sh\n      timeout: 30\n      runas: www-data\n"
        + "  ValidateService:\n"
    )
    assert spec.file_exists_behavior == "OVERWRITE"
    assert spec.files[0].source == "app" and spec.files[0].destination == "/srv/app"
    assert spec.permissions[0].mode == "640" and spec.permissions[0].type == ["file"]
    hook = spec.scripts_for("AfterInstall")[0]
    assert (hook.location, hook.timeout, hook.runas) == ("scripts/a.sh", 30, "www-data")
    assert spec.scripts_for("ValidateService") == []
    assert spec.event_timeout("AfterInstall") == 30


def test_it_defaults_the_hook_timeout_to_3600_seconds():
    spec = parse_appspec(HEAD + "hooks:\n  BeforeInstall:\n    - location: a.sh\n")
    assert spec.scripts_for("BeforeInstall")[0].timeout == 3600


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_it_rejects_an_empty_file(text):
    error = error_for(text)
    assert "application specification file was empty" in error.message
    assert "'version' and 'os'" in error.message
    assert error.filename == "appspec.yml"


def test_it_rejects_a_bad_version_quoting_the_value():
    error = error_for("os: linux\nversion: 1.0\n")
    assert 'invalid version value ("1.0")' in error.message
    assert error.line == 2
    assert str(error).startswith("appspec.yml, line 2: ")


def test_it_rejects_a_missing_version():
    assert "'version'" in error_for("os: linux\n").message


def test_it_rejects_a_bad_os_quoting_the_value():
    error = error_for("version: 0.0\nos: windows\n", "appspec.yaml")
    assert 'unsupported operating system ("windows")' in error.message
    assert (error.filename, error.line) == ("appspec.yaml", 2)


def test_it_rejects_a_hook_without_location():
    error = error_for(HEAD + "hooks:\n  BeforeInstall:\n    - timeout: 10\n")
    assert "script with no location value" in error.message
    assert error.line == 5


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "soon"])
def test_it_rejects_a_bad_timeout(value):
    error = error_for(HEAD + f"hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: {value}\n")
    assert f'invalid timeout value ("{value}")' in error.message
    assert error.line == 6


def test_it_rejects_an_unknown_event_name_listing_every_unknown_name():
    error = error_for(HEAD + "hooks:\n  AfterInstall:\n  BeforeInstal:\n  Restart:\n")
    assert "unknown lifecycle event names: BeforeInstal, Restart" in error.message
    assert error.line == 5


@pytest.mark.parametrize("event", ["DownloadBundle", "Install", "BlockTraffic", "AllowTraffic"])
def test_it_rejects_hooks_for_events_that_cannot_run_scripts(event):
    error = error_for(HEAD + f"hooks:\n  {event}:\n    - location: a.sh\n")
    assert event in error.message and "cannot run scripts" in error.message
    assert error.line == 4


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("'644'", "644"), ("644", "644"), ("0644", "0644"), ("'4755'", "4755"), ("7", "007"), ("'44'", "044")],
)
def test_it_pads_modes_to_three_octal_digits_and_reads_unquoted_0644_as_written(raw, expected):
    spec = parse_appspec(HEAD + f"permissions:\n  - object: /srv\n    mode: {raw}\n")
    assert spec.permissions[0].mode == expected
    assert spec.permissions[0].mode_int == int(expected, 8)


def test_it_rejects_a_mode_with_five_digits():
    error = error_for(HEAD + "permissions:\n  - object: /srv\n    mode: 10644\n")
    assert 'Invalid mode "10644"' in error.message and "at most 4" in error.message
    assert error.line == 5


def test_it_rejects_a_mode_with_a_non_octal_digit():
    error = error_for(HEAD + "permissions:\n  - object: /srv\n    mode: '648'\n")
    assert 'Invalid mode "648": 8 is not an octal digit' in error.message


def test_it_rejects_two_sources_for_one_destination():
    error = error_for(
        HEAD + "files:\n  - source: app\n    destination: /srv\n  - source: app/\n    destination: /srv/\n"
    )
    assert "twice" in error.message and "first at line 4" in error.message
    assert error.line == 6


def test_it_rejects_a_permission_object_set_twice():
    error = error_for(
        HEAD + "permissions:\n  - object: /srv\n    mode: 644\n  - object: /srv/\n    mode: 600\n"
    )
    assert "permissions setting for (/srv/) is specified more than once" in error.message
    assert error.line == 6


def test_it_allows_one_object_with_separate_file_and_directory_entries():
    spec = parse_appspec(
        HEAD + "permissions:\n  - object: /srv\n    type: [file]\n    mode: 644\n"
        "  - object: /srv\n    type: [directory]\n    mode: 755\n"
    )
    assert [p.type for p in spec.permissions] == [["file"], ["directory"]]


def test_it_rejects_an_unknown_permission_type():
    assert (
        'Invalid permissions type "link"'
        in error_for(HEAD + "permissions:\n  - object: /srv\n    type: [link]\n").message
    )


def test_it_rejects_a_files_entry_without_destination():
    error = error_for(HEAD + "files:\n  - source: app\n")
    assert "no destination value" in error.message and error.line == 4


def test_it_reports_yaml_syntax_errors_with_a_line_number():
    error = error_for(HEAD + "hooks:\n  AfterInstall: [\n")
    assert "not valid YAML" in error.message and error.line is not None


def test_it_accepts_and_keeps_acls_and_context():
    spec = parse_appspec(
        HEAD + "permissions:\n  - object: /srv\n    acls: ['u:nobody:rw']\n"
        "    context:\n      type: httpd_sys_content_t\n"
        "    except: ['*.log']\n    pattern: '*.conf'\n"
    )
    perm = spec.permissions[0]
    assert perm.acls == ["u:nobody:rw"] and perm.context == {"type": "httpd_sys_content_t"}
    assert perm.except_ == ["*.log"] and perm.pattern == "*.conf"
