"""Apply the retention settings now: what the daily beat task does, with counts and bytes printed.

`--dry-run` prints what would be deleted and deletes nothing. The rules are in deployments/retention.py.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from deployments import retention


class Command(BaseCommand):
    help = (
        "Delete expired deployment logs, old finished deployments and old bundles, as "
        "FLEETDECK_LOG_RETENTION_DAYS, FLEETDECK_DEPLOYMENT_RETENTION_DAYS and FLEETDECK_KEEP_REVISIONS "
        "say, never what a running deployment, a rollback or a new host needs. Prints counts and bytes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be deleted; delete nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        report = retention.cleanup(dry_run=dry_run)
        for line in report.lines():
            self.stdout.write(line)
