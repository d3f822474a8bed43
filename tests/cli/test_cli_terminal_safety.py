"""Hook output cannot drive the terminal of whoever reads it with `fleetdeck logs` or `watch`.

A hook script's author controls its output; that output must not retitle the reader's window, plant
hyperlinks, clear the screen, move the cursor to rewrite earlier lines or send the terminal requests.
Plain colours survive on a terminal, and nothing but text goes into a pipe or a file.
"""

from __future__ import annotations

import io

import pytest
from cli_helpers import APPSPEC
from factories import finish, make_fleet, make_revision
from fleetdeck_cli.terminal import clean
from fleetdeck_cli.watch import Watcher, log_line, summary
from test_cli_deployments import _log, deploy

HOSTILE = [
    ("title\x1b]0;pwned by a hook\x07set", "titleset"),
    ("link \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ here", "link click here"),
    ("\x1b[2J\x1b[3J\x1b[Hcleared", "cleared"),
    ("up\x1b[1A\x1b[2K\x1b[999Dover", "upover"),
    ("fake success\rDeployment Succeeded", "fake successDeployment Succeeded"),
    ("report\x1b[6n\x1b[21t\x1bZ?", "report?"),
    ('dcs\x1bP$q"p\x1b\\end', "dcsend"),
    ("c1 \u009b2J\u009d0;t\u009c done", "c1  done"),
    ("bell\x07back\x08space\x7f nul\x00", "bellbackspace nul"),
    ("reset\x1bc\x1b(0box\x1b(B", "resetbox"),
    ("cut short \x1b]0;no terminator", "cut short "),
    ("tab\tstays", "tab\tstays"),
]


@pytest.mark.parametrize(("raw", "shown"), HOSTILE, ids=[h[1][:12] for h in HOSTILE])
def test_control_sequences_and_characters_are_removed(raw, shown):
    assert clean(raw) == shown
    assert clean(raw, colours=True) == shown


def test_plain_colours_stay_on_a_terminal_only():
    raw = "\x1b[1;31mERROR\x1b[0m \x1b[38;5;208morange\x1b[39m \x1b[38;2;0;128;255mblue\x1b[m"
    assert clean(raw, colours=True) == raw
    assert clean(raw) == "ERROR orange blue"


@pytest.mark.parametrize(
    "sgr", ["\x1b[8m", "\x1b[5m", "\x1b[7m", "\x1b[38;5m", "\x1b[38;2;1;2m", "\x1b[1:3m"]
)
def test_colour_codes_that_hide_blink_or_are_malformed_are_dropped(sgr):
    assert clean(f"a{sgr}b", colours=True) == "ab"


def test_log_lines_summaries_and_state_lines_are_cleaned():
    event = {"instance": "web-1\x1b[2J", "event": "AfterInstall", "message": "\x1b]0;x\x07\x1b[32mok\x1b[0m"}
    assert log_line(event) == "[web-1 AfterInstall] ok"
    assert log_line(event, colours=True) == "[web-1 AfterInstall] \x1b[32mok\x1b[0m"
    detail = {
        "id": "d-1",
        "status": "Failed",
        "targets": [
            {
                "instance": "web-1",
                "status": "Failed",
                "lifecycle_events": [
                    {
                        "name": "AfterInstall",
                        "status": "Failed",
                        "diagnostics": {
                            "error_code": "ScriptFailed",
                            "message": "Script at specified location: \x1b]8;;x\x1b\\s.sh failed",
                            "log_tail": "last\x1b[1Aline\n\x1b[2Jcleared",
                        },
                    }
                ],
            }
        ],
    }
    assert "\x1b" not in "\n".join(summary(detail))
    assert "      | lastline" in summary(detail)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_fleetdeck_logs_prints_hostile_hook_output_as_plain_text(cli, group, project):
    make_fleet(project, 1)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    stored = [
        (raw, shown) for raw, shown in HOSTILE if "\x00" not in raw
    ]  # PostgreSQL text holds no NUL; clean() drops it above
    event = _log(deployment_id, "web-1", [raw for raw, _shown in stored] + ["\x1b[31mred\x1b[0m"])
    result = cli("logs", deployment_id)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [f"[web-1 {event}] {shown}" for _raw, shown in stored] + [
        f"[web-1 {event}] red"
    ]
    assert "\x1b" not in result.out and "\r" not in result.out


def test_watch_with_logs_keeps_only_plain_colours_on_a_terminal(cli, group, project):
    from fleetdeck_cli.api import Api
    from fleetdeck_cli.config import resolve

    make_fleet(project, 1)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    _log(deployment_id, "web-1", ["\x1b]0;pwned\x07\x1b[2J\x1b[32mgreen\x1b[0m"], done=True)
    finish(deployment_id, "Succeeded")
    out = _Tty()
    Watcher(Api(resolve()), deployment_id, out=out, show_logs=True).run(timeout=30)
    text = out.getvalue()
    assert "\x1b[32mgreen\x1b[0m" in text
    assert "pwned" not in text and "\x1b[2J" not in text and "\x1b]" not in text
