"""crypto: secrets round-trip through Fernet and are ciphertext in the database."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from factories import GITHUB_TOKEN, make_github, make_project

from core import crypto
from integrations.models import GitHubConnection

pytestmark = pytest.mark.django_db


def test_a_secret_round_trips():
    stored = crypto.encrypt("s3cr3t value")
    assert stored.startswith("fernet:") and "s3cr3t" not in stored
    assert crypto.decrypt(stored) == "s3cr3t value"


def test_blank_stays_blank():
    assert crypto.encrypt("") == "" and crypto.decrypt("") == ""


def test_the_database_holds_only_ciphertext():
    conn = make_github(make_project(), "http://127.0.0.1:9")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token FROM {GitHubConnection._meta.db_table} WHERE id = %s", [conn.pk])  # noqa: S608
        raw = cursor.fetchone()[0]
    assert GITHUB_TOKEN not in raw
    assert GitHubConnection.objects.get(pk=conn.pk).token == GITHUB_TOKEN


def test_an_explicit_key_from_the_environment_is_used(settings):
    # FLEETDECK_ENCRYPTION_KEY is parsed into ENCRYPTION_KEYS at start (config/settings.py).
    key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [key]
    stored = crypto.encrypt("hello")
    assert Fernet(key.encode()).decrypt(stored.removeprefix("fernet:").encode()) == b"hello"


def test_a_malformed_key_fails_loudly(settings):
    from core.env import ConfigError

    settings.ENCRYPTION_KEYS = ["not-a-key"]
    with pytest.raises(ConfigError, match="FLEETDECK_ENCRYPTION_KEY"):
        crypto.encrypt("hello")


def test_a_secret_from_another_key_reads_as_blank_instead_of_crashing(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    stored = crypto.encrypt("hello")
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert crypto.decrypt(stored) == ""
