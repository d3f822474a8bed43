"""Secrets at rest: Fernet, keyed from FLEETDECK_ENCRYPTION_KEY or, by default, from SECRET_KEY via HKDF.

Rotating SECRET_KEY without setting FLEETDECK_ENCRYPTION_KEY makes stored integration secrets
unreadable; they then read as "" and the pages ask for them again, rather than crashing.
"""

from __future__ import annotations

import base64
import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

from config.env import ConfigError, env_str

log = logging.getLogger(__name__)
PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(secret_key: str, configured: str) -> Fernet:
    if configured:
        try:
            return Fernet(configured.encode())
        except (ValueError, TypeError):
            raise ConfigError(
                "FLEETDECK_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes); "
                "make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"fleetdeck-integrations", info=b"secrets-at-rest"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def fernet() -> Fernet:
    return _fernet(settings.SECRET_KEY, env_str("FLEETDECK_ENCRYPTION_KEY"))


def encrypt(plain: str) -> str:
    if not plain:
        return ""
    return PREFIX + fernet().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise ValueError("not an encrypted value")
    try:
        return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        log.warning("an integration secret cannot be decrypted with the current key; it must be set again")
        return ""


class EncryptedTextField(models.TextField):
    """Holds plain text in Python and Fernet ciphertext in the database."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else ""

    def to_python(self, value):
        return value or ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else ""


def scrub(text: str, *secrets: str) -> str:
    """Remove secrets from an error message before it is stored, logged or shown."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "••••")
    return text
