"""Issue a personal API token for scripts and CI: `Authorization: Token fdp_…`.

The same kind of token users create on /profile/tokens/: shown once here, stored only as a hash,
revocable there. Plain-text keys (DRF's authtoken) are not used anywhere.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from projects.models import ApiToken


class Command(BaseCommand):
    help = (
        "Print a new personal API token for USERNAME (shown once, stored hashed). "
        "--rotate first revokes USERNAME's tokens with the same --name."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--name", default="createapitoken", help="The token's name (default: %(default)s)."
        )
        parser.add_argument(
            "--rotate", action="store_true", help="Revoke the user's active tokens with this name first."
        )
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="Expire the token after this many days."
        )

    def handle(self, *args, username: str, name: str, rotate: bool, expires_in_days: int | None, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(
                f"No user named {username!r}. Create one first: python manage.py createsuperuser"
            ) from None
        with transaction.atomic():
            if rotate:
                ApiToken.objects.filter(user=user, name=name, revoked_at__isnull=True).update(
                    revoked_at=timezone.now()
                )
            if expires_in_days is not None and expires_in_days < 1:
                raise CommandError("--expires-in-days must be 1 or more")
            _, raw = ApiToken.issue(user, name, expires_in_days=expires_in_days)
        self.stdout.write(raw)
