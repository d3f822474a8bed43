"""`manage.py rotate_encryption_key`: re-encrypt every stored secret with the first encryption key.

The procedure (docs/production.md): put the new key in front of FLEETDECK_ENCRYPTION_KEY (NEW,OLD) on
every machine, restart, run this, then remove OLD and restart again.
"""

from __future__ import annotations

from collections import Counter

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast

from core.crypto import PREFIX, EncryptedTextField, encrypted_fields, rotate


def _rotate_column(model: type[models.Model], field: EncryptedTextField, *, dry_run: bool) -> Counter:
    """Re-encrypt one column, its rows locked so a concurrent save waits rather than being overwritten."""
    counts: Counter = Counter()
    manager = model._base_manager
    with transaction.atomic():
        # Cast to plain text: the stored ciphertext, not what the field would decrypt it to.
        rows = (
            manager.select_for_update()
            .annotate(stored=Cast(field.attname, models.TextField()))
            .exclude(stored="")
            .values_list("pk", "stored")
        )
        for pk, stored in rows:
            try:
                new = rotate(stored)
            except InvalidToken:
                counts["unreadable"] += 1
                continue
            counts["rotated" if stored.startswith(PREFIX) else "plain"] += 1
            if not dry_run:
                manager.filter(pk=pk).update(
                    **{field.attname: models.Value(new, output_field=models.TextField())}
                )
    return counts


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of FLEETDECK_ENCRYPTION_KEY, and count them."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would change; write nothing")

    def handle(self, *args, dry_run: bool = False, **options) -> None:
        totals: Counter = Counter()
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        for model, field in encrypted_fields():
            counts = _rotate_column(model, field, dry_run=dry_run)
            totals.update(counts)
            line = f"{model._meta.label}.{field.name}: {counts['rotated']} {verb}"
            if counts["plain"]:
                line += f", {counts['plain']} in plain text encrypted"
            if counts["unreadable"]:
                line += f", {counts['unreadable']} unreadable"
            self.stdout.write(line)
        self.stdout.write(
            f"{totals['rotated'] + totals['plain']} secrets {verb} with the first key of "
            f"FLEETDECK_ENCRYPTION_KEY; {totals['plain']} written in plain text were encrypted; "
            f"{totals['unreadable']} could not be read."
        )
        if totals["unreadable"]:
            raise CommandError(
                f"{totals['unreadable']} stored secrets could not be decrypted with any key in "
                "FLEETDECK_ENCRYPTION_KEY (nor the one derived from FLEETDECK_SECRET_KEY), so they were left "
                "as they are. Add the key that wrote them to FLEETDECK_ENCRYPTION_KEY and run this again, "
                "or set those secrets again on their integration pages."
            )
