"""Secrets at rest: Fernet, keyed from FLEETDECK_ENCRYPTION_KEY or, by default, from SECRET_KEY via HKDF.

FLEETDECK_ENCRYPTION_KEY may hold several keys (MultiFernet): the first encrypts, all of them decrypt,
and `manage.py rotate_encryption_key` re-encrypts every stored secret with the first, after which the
old keys can be dropped. The key derived from SECRET_KEY always still decrypts, so setting an explicit
key for the first time loses nothing.

Rotating SECRET_KEY without setting FLEETDECK_ENCRYPTION_KEY makes stored integration secrets
unreadable; they then read as "" and the pages ask for them again, rather than crashing.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.db import models

from core.env import ConfigError

log = logging.getLogger(__name__)
PREFIX = "fernet:"


def _explicit(key: str, position: int, count: int) -> Fernet:
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigError(
            f"FLEETDECK_ENCRYPTION_KEY: key {position} of {count} is not a Fernet key (32 url-safe "
            "base64-encoded bytes); make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from None


@lru_cache(maxsize=4)
def _fernet(secret_key: str, configured: tuple[str, ...]) -> MultiFernet:
    explicit = [_explicit(key, n, len(configured)) for n, key in enumerate(configured, 1)]
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"fleetdeck-integrations", info=b"secrets-at-rest"
    ).derive(secret_key.encode())
    return MultiFernet([*explicit, Fernet(base64.urlsafe_b64encode(derived))])


def fernet() -> MultiFernet:
    return _fernet(settings.SECRET_KEY, tuple(settings.ENCRYPTION_KEYS))


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


def rotate(stored: str) -> str:
    """The same secret encrypted with the first key. Raises InvalidToken when no key can read it; a
    value left in plain text (from before a column was encrypted) is encrypted."""
    if not stored.startswith(PREFIX):
        return encrypt(stored)
    return PREFIX + fernet().rotate(stored[len(PREFIX) :].encode()).decode()


class EncryptedTextField(models.TextField):
    """Holds plain text in Python and Fernet ciphertext in the database."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else ""

    def to_python(self, value):
        return value or ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else ""


def encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedTextField]]:
    """Every encrypted column of every installed model, so rotation misses none added later."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


def scrub(text: str, *secrets: str) -> str:
    """Remove secrets from an error message before it is stored, logged or shown."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "••••")
    return text
