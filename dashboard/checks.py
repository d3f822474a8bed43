"""Warnings about how the server is reached: a Django system check (`manage.py check --deploy`) and the
same text logged when a web process starts, since uvicorn runs no system checks."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import checks

log = logging.getLogger(__name__)


@checks.register(checks.Tags.security, deploy=True)
def any_host_allowed(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """ALLOWED_HOSTS "*" lets any client choose the Host that request-built links name."""
    if "*" not in settings.ALLOWED_HOSTS:
        return []
    return [
        checks.Warning(
            "FLEETDECK_ALLOWED_HOSTS is '*': this server answers to any Host header, so a link built "
            "from a request can name a server an attacker chose (password-reset mails are refused "
            "until this is fixed).",
            hint="Set FLEETDECK_PUBLIC_URL to the address people and hosts use (FLEETDECK_ALLOWED_HOSTS "
            "then defaults to its host), or list the server's names in FLEETDECK_ALLOWED_HOSTS.",
            id="fleetdeck.W001",
        )
    ]


def log_startup_warnings() -> None:
    """Called by config/asgi.py and config/wsgi.py once per web process."""
    for message in any_host_allowed():
        log.warning("%s %s (%s)", message.msg, message.hint, message.id)
