"""Rotating FLEETDECK_ENCRYPTION_KEY (issue 14, item 10) without losing a stored secret.

The variable holds one or more Fernet keys: the first encrypts, all of them decrypt (MultiFernet), and
`manage.py rotate_encryption_key` re-encrypts every encrypted column with the first. The procedure the
docs give: add the new key in front (B,A), restart, run the command, then drop the old key (B).
"""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection
from security_world import SECRETS, seed
from server_process import run, server_env, settings_of

from core import crypto
from integrations.models import AwsConnection, GitHubConnection, JiraConnection, Trigger

pytestmark = pytest.mark.django_db

A, B, C = (Fernet.generate_key().decode() for _ in range(3))
# Every encrypted column of the seeded world (plus a Slack trigger), and how many values it holds.
EXPECTED = {
    "integrations.AwsConnection.secret_access_key": 1,
    "integrations.GitHubConnection.token": 1,
    "integrations.GitHubConnection.webhook_secret": 1,
    "integrations.JiraConnection.token": 1,
    "integrations.Trigger.secret": 1,
    "integrations.Trigger.target": 2,
    "projects.AccessKey.secret": 1,
}


def _world_under(settings, *keys: str):
    settings.ENCRYPTION_KEYS = list(keys)
    world = seed()
    Trigger.objects.create(group=world.group, name="zq-slack", events=["DeploymentFailure"], kind="slack",
                           target=SECRETS["slack_url"])  # fmt: skip
    return world


def _plain_secrets() -> dict[str, str]:
    """Every secret as the application reads it."""
    github = GitHubConnection.objects.get()
    triggers = {t.name: t for t in Trigger.objects.all()}
    return {
        "github_token": github.token,
        "github_webhook_secret": github.webhook_secret,
        "jira_token": JiraConnection.objects.get().token,
        "aws_secret_access_key": AwsConnection.objects.get().secret_access_key,
        "trigger_secret": triggers["zq-trigger"].secret,
        "slack_url": triggers["zq-slack"].target,
    }


def _raw(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {column} <> '' ORDER BY id")  # noqa: S608 - names from the test
        return [row[0] for row in cursor.fetchall()]


def _all_raw() -> list[str]:
    return [
        *_raw("integrations_githubconnection", "token"),
        *_raw("integrations_githubconnection", "webhook_secret"),
        *_raw("integrations_jiraconnection", "token"),
        *_raw("integrations_awsconnection", "secret_access_key"),
        *_raw("integrations_trigger", "target"),
        *_raw("integrations_trigger", "secret"),
        *_raw("projects_accesskey", "secret"),
    ]


def _readable_by(key: str, stored: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(stored.removeprefix(crypto.PREFIX).encode())
    except InvalidToken:
        return False
    return True


def _rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_key", *args, stdout=out)
    return out.getvalue()


def test_rotating_from_a_to_b_loses_nothing(settings):
    _world_under(settings, A)
    expected = {name: SECRETS[name] for name in _plain_secrets()}
    assert all(_readable_by(A, raw) for raw in _all_raw())

    settings.ENCRYPTION_KEYS = [B, A]  # the new key in front; the old one still reads
    assert _plain_secrets() == expected
    report = _rotate()
    for label, count in EXPECTED.items():
        assert f"{label}: {count} re-encrypted" in report, report
    assert "8 secrets re-encrypted" in report and "0 could not be read" in report

    settings.ENCRYPTION_KEYS = [B]  # the old key dropped
    assert _plain_secrets() == expected
    raw = _all_raw()
    assert len(raw) == 8
    assert all(_readable_by(B, value) for value in raw)
    assert not any(_readable_by(A, value) for value in raw)


def test_new_secrets_are_written_with_the_first_key(settings):
    settings.ENCRYPTION_KEYS = [B, A]
    stored = crypto.encrypt("fresh")
    assert _readable_by(B, stored) and not _readable_by(A, stored)


def test_a_dry_run_counts_and_changes_nothing(settings):
    _world_under(settings, A)
    before = _all_raw()
    settings.ENCRYPTION_KEYS = [B, A]
    report = _rotate("--dry-run")
    assert "8 secrets would be re-encrypted" in report, report
    assert _all_raw() == before


def test_secrets_no_key_can_read_are_reported_and_left_as_they_are(settings):
    _world_under(settings, A)
    before = _all_raw()
    settings.ENCRYPTION_KEYS = [B, C]  # A lost before rotating: nothing can read those values
    with pytest.raises(
        CommandError, match=r"8 stored secrets could not be decrypted.*FLEETDECK_ENCRYPTION_KEY"
    ):
        _rotate()
    assert _all_raw() == before


def test_a_plain_text_value_left_in_an_encrypted_column_is_encrypted(settings):
    _world_under(settings, A)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE integrations_jiraconnection SET token = 'legacy-plain-token'")
    settings.ENCRYPTION_KEYS = [B, A]
    report = _rotate()
    assert "1 written in plain text were encrypted" in report, report
    (stored,) = _raw("integrations_jiraconnection", "token")
    assert _readable_by(B, stored) and JiraConnection.objects.get().token == "legacy-plain-token"


def test_moving_from_the_derived_key_to_an_explicit_one_loses_nothing(settings):
    """Without FLEETDECK_ENCRYPTION_KEY the key is derived from the secret key, which always still reads."""
    _world_under(settings)
    settings.ENCRYPTION_KEYS = [B]
    assert _plain_secrets()["jira_token"] == SECRETS["jira_token"]
    _rotate()
    assert all(_readable_by(B, value) for value in _all_raw())


def test_the_variable_takes_several_keys_and_names_a_bad_one(tmp_path):
    env = server_env(tmp_path, FLEETDECK_ENCRYPTION_KEY=f"{B}, {A}")
    assert settings_of(env, "ENCRYPTION_KEYS") == {"ENCRYPTION_KEYS": [B, A]}
    bad = server_env(tmp_path, FLEETDECK_ENCRYPTION_KEY=f"{B},not-a-key")
    result = run("import django; django.setup()", bad, check=False)
    assert result.returncode != 0
    assert "FLEETDECK_ENCRYPTION_KEY" in result.stderr and "key 2" in result.stderr
    assert "not-a-key" not in result.stderr  # a key, even a broken one, is never printed
