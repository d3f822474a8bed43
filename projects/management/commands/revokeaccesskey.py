"""Revoke a CodeDeploy access key: requests signed with it are refused from now on."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from projects.models import AccessKey


class Command(BaseCommand):
    help = "Revoke the CodeDeploy access key KEY_ID (AccessKeyId). Revoking a revoked key changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("key_id")

    def handle(self, *args, key_id: str, **options):
        key = AccessKey.objects.filter(key_id=key_id).select_related("user", "project").first()
        if key is None:
            raise CommandError(f"No access key {key_id!r}.")
        key.revoke()
        self.stdout.write(f"Revoked {key.key_id} ({key.user.get_username()} in {key.project.slug}).")
