"""Where the CLI finds its server and token, and `fleetdeck configure` writing the config file."""

from __future__ import annotations

import io
import os
import stat

import pytest
from fleetdeck_cli.config import config_path, resolve, save_profile
from fleetdeck_cli.errors import USAGE, CliError


def test_configure_checks_the_token_and_writes_the_file_mode_0600(
    server, personal_token, offline_cli, monkeypatch, tmp_path, project
):
    monkeypatch.setattr("sys.stdin", io.StringIO(personal_token + "\n"))
    result = offline_cli("configure", "--url", server + "/", "--token-stdin")
    assert result.code == 0, result.err
    assert "The token works; its projects: shop" in result.err
    path = tmp_path / "fleetdeck-config"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text() == f"[default]\nurl = {server}\ntoken = {personal_token}\n\n"
    settings = resolve()
    assert (settings.url, settings.token) == (server, personal_token)
    assert personal_token not in result.err + result.out


def test_configure_refuses_a_bad_token_and_writes_nothing(server, offline_cli, monkeypatch, tmp_path, owner):
    monkeypatch.setattr("sys.stdin", io.StringIO("fdp_not-a-real-token\n"))
    result = offline_cli("configure", "--url", server, "--token-stdin")
    assert result.code == 7
    assert "refused the API token" in result.err and f"{server}/profile/tokens/" in result.err
    assert not (tmp_path / "fleetdeck-config").exists()


def test_configure_keeps_other_profiles(offline_cli, monkeypatch, tmp_path):
    save_profile(str(tmp_path / "fleetdeck-config"), "prod", {"url": "https://prod.example", "token": "p"})
    monkeypatch.setattr("sys.stdin", io.StringIO("s\n"))
    result = offline_cli(
        "configure", "--profile", "staging", "--url", "https://stg.example", "--token-stdin", "--no-verify"
    )
    assert result.code == 0, result.err
    assert resolve(profile="prod").url == "https://prod.example"
    assert resolve(profile="staging").token == "s"


def test_the_environment_wins_over_the_file(tmp_path, monkeypatch):
    save_profile(
        str(tmp_path / "fleetdeck-config"), "default", {"url": "https://file.example", "token": "from-file"}
    )
    assert resolve().token == "from-file"
    monkeypatch.setenv("FLEETDECK_TOKEN", "from-env")
    monkeypatch.setenv("FLEETDECK_URL", "https://env.example/")
    settings = resolve()
    assert (settings.url, settings.token, settings.source) == (
        "https://env.example",
        "from-env",
        "FLEETDECK_TOKEN",
    )
    assert resolve(url="https://flag.example").url == "https://flag.example"


def test_a_token_file_is_read_for_ci_secrets(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("fdp_from_file\n")
    monkeypatch.setenv("FLEETDECK_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("FLEETDECK_URL", "https://x.example")
    assert resolve().token == "fdp_from_file"


def test_without_configuration_the_error_says_what_to_do(offline_cli):
    result = offline_cli("status", "d-ABC")
    assert result.code == USAGE
    assert (
        "No Fleetdeck server configured: pass --url, set FLEETDECK_URL, or run `fleetdeck configure`"
        in result.err
    )
    result = offline_cli("--url", "https://x.example", "status", "d-ABC")
    assert result.code == USAGE
    assert (
        "No API token: set FLEETDECK_TOKEN" in result.err
        and "https://x.example/profile/tokens/" in result.err
    )


def test_an_unknown_profile_is_an_error(tmp_path):
    save_profile(str(tmp_path / "fleetdeck-config"), "default", {"url": "https://x.example", "token": "t"})
    with pytest.raises(CliError, match=r"No profile \[prod\]"):
        resolve(profile="prod")


def test_a_typo_in_the_file_is_reported_not_ignored(tmp_path):
    (tmp_path / "fleetdeck-config").write_text("[default]\nurl = https://x.example\ntokn = t\n")
    with pytest.raises(CliError, match=r"unknown key.*tokn"):
        resolve()


def test_a_file_others_can_read_gets_a_warning(tmp_path, capsys):
    path = tmp_path / "fleetdeck-config"
    save_profile(str(path), "default", {"url": "https://x.example", "token": "t"})
    os.chmod(path, 0o644)
    resolve()
    assert f"chmod 600 {path}" in capsys.readouterr().err


def test_the_default_path_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("FLEETDECK_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == str(tmp_path / "xdg" / "fleetdeck" / "config")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_path() == str(tmp_path / "home" / ".config" / "fleetdeck" / "config")
