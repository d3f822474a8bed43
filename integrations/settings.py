"""Integration timeouts and retry policy: Django settings override the environment, which has defaults.

Read on every use, so tests can shorten them with pytest-django's ``settings`` fixture.
"""

from __future__ import annotations

from django.conf import settings

from core.env import env_float, env_int


def timeout() -> float:
    """Seconds for one call to GitHub, JIRA, AWS or a trigger target from a task."""
    return getattr(settings, "FLEETDECK_INTEGRATIONS_TIMEOUT", None) or env_float(
        "FLEETDECK_INTEGRATIONS_TIMEOUT", 10.0, minimum=0.1
    )


def interactive_timeout() -> float:
    """Seconds for calls a person waits on: tiles and "Test connection"."""
    return getattr(settings, "FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT", None) or env_float(
        "FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT", 5.0, minimum=0.1
    )


def delivery_attempts() -> int:
    return getattr(settings, "FLEETDECK_TRIGGER_ATTEMPTS", None) or env_int(
        "FLEETDECK_TRIGGER_ATTEMPTS", 5, minimum=1
    )


def delivery_backoff() -> float:
    """The first retry's delay in seconds; it doubles each attempt."""
    value = getattr(settings, "FLEETDECK_TRIGGER_BACKOFF", None)
    return value if value is not None else env_float("FLEETDECK_TRIGGER_BACKOFF", 10.0, minimum=0)


def tile_cache_ttl() -> int:
    """Seconds a repository, build or issues tile is reused per project before GitHub/JIRA is asked again."""
    value = getattr(settings, "FLEETDECK_TILE_CACHE_TTL", None)
    return value if value is not None else env_int("FLEETDECK_TILE_CACHE_TTL", 60, minimum=0)


def tile_error_ttl() -> int:
    """Seconds a tile's error state is reused: shorter, so a recovered service shows up soon."""
    value = getattr(settings, "FLEETDECK_TILE_ERROR_TTL", None)
    return value if value is not None else env_int("FLEETDECK_TILE_ERROR_TTL", 10, minimum=0)
