"""Registration: a registration token enrols new hosts, and never takes over a registered one.

A host that registers again (a re-install, an upgrade, `install.sh --token` run twice) presents its
current credential and keeps its identity. Without that credential, a name another live instance of
the project holds is a 409: only deregistering that instance frees the name. Deregistered instances
stay revoked; registering their name creates a new instance. A token's tags cannot be overridden.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from deployments.models import Instance, RegistrationToken
from deployments.models.fleet import hash_secret

from .validation import BadRequest


@dataclass
class Registered:
    status: int  # 201 a new instance, 200 a host registering again
    instance: Instance
    credential: str


class Refused(Exception):
    """A registration the server turns down: the status and what to do about it."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def name_taken(name: str) -> Refused:
    return Refused(
        409,
        f"An instance named {name} is already registered in this project. If this host is {name}, "
        "register it with its current credential (`fleetdeck-agent register` sends the one in its "
        f"config). Otherwise deregister {name} first (on the project's fleet page, or "
        f"POST /api/v1/instances/{name}/deregister/), or register this host under another --name.",
    )


def merged_tags(token: RegistrationToken, requested: dict[str, str]) -> dict[str, str]:
    """The token's tags plus the keys the request adds; a request that changes a token's tag is a 400."""
    fixed = token.tags or {}
    clashes = sorted(key for key, value in requested.items() if key in fixed and fixed[key] != value)
    if clashes:
        pairs = ", ".join(f"{key}={fixed[key]}" for key in clashes)
        raise BadRequest(
            "tags",
            f"cannot change what the registration token sets ({pairs}); leave "
            f"{', '.join(clashes)} out (or repeat the token's value), or use a token with the tags you need",
        )
    return {**fixed, **requested}


def register(
    raw_token: str, credential: str | None, name: str, tags: dict[str, str], details: dict[str, str]
) -> Registered:
    """Enrol a host, or update the one whose credential is presented. `details` are the Instance
    fields the agent reports (hostname, platform, …). Raises Refused or BadRequest; changes nothing then."""
    try:
        with transaction.atomic():
            return _register(raw_token, credential, name, tags, details)
    except IntegrityError:
        # Another registration took the name between our look and our insert.
        raise name_taken(name) from None


def _register(
    raw_token: str, credential: str | None, name: str, tags: dict[str, str], details: dict[str, str]
) -> Registered:
    token = RegistrationToken.objects.filter(token_hash=hash_secret(raw_token)).first()
    if token is None:
        raise Refused(401, "The registration token is unknown, expired or revoked. Ask for a new one.")
    current = None
    if credential:
        # The presented credential names the host registering again: a live instance of the token's
        # project. A credential of a deregistered instance, or of another project's, enrols anew.
        current = (
            Instance.holding(hash_secret(credential))
            .filter(project_id=token.project_id)
            .select_for_update()
            .first()
        )
    reason = token.unusable_reason(enrolling=current is None)
    if reason:
        raise Refused(401, reason)
    all_tags = merged_tags(token, tags)
    holder = (
        Instance.objects.select_for_update()
        .filter(project_id=token.project_id, name=name, deregistered_at__isnull=True)
        .first()
    )
    if holder is not None and (current is None or holder.pk != current.pk):
        raise name_taken(name)
    now = timezone.now()
    if current is not None:
        for field, value in details.items():
            setattr(current, field, value)
        current.name, current.tags = name, all_tags
        current.online, current.last_seen = True, now
        current.save()
        RegistrationToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return Registered(200, current, credential)
    if not token.claim_use():  # a concurrent registration took the last use, or it was just revoked
        token.refresh_from_db()
        raise Refused(401, token.unusable_reason() or "The registration token cannot enrol more hosts.")
    instance = Instance(
        name=name,
        project_id=token.project_id,
        tags=all_tags,
        registration_token=token,
        online=True,
        last_seen=now,
        **details,
    )
    raw = instance.rotate_credential()
    instance.save()
    # A new host in a group gets the group's last successful revision.
    from deployments.tasks import update_new_instance

    transaction.on_commit(lambda: update_new_instance.delay(instance.pk))
    return Registered(201, instance, raw)
