"""Who is calling: an agent's bearer credential, checked against the stored hash.

Authentication runs inside the caller's own database work (one thread-pool hop per request, not one
for authentication and one for the work), so the views pass the hash along and the database decides.
"""

from __future__ import annotations

from django.http import HttpRequest

from deployments.models import Instance
from deployments.models.fleet import hash_secret


class Unauthorized(Exception):
    """The credential is unknown, revoked or the instance deregistered: a 401."""


def bearer(request: HttpRequest) -> str | None:
    """The request's bearer credential; None if there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return raw.strip()


def credential_hash(request: HttpRequest) -> str | None:
    """The hash of the request's bearer credential, as stored; None if there is none."""
    raw = bearer(request)
    return hash_secret(raw) if raw is not None else None


def authenticate(credential: str) -> Instance:
    """The caller's instance, with its heartbeat recorded. Runs in the caller's database hop."""
    instance = Instance.holding(credential).first()
    if instance is None:
        raise Unauthorized()
    instance.seen()
    return instance
