"""Idempotent demo seed: a login to look around with. The demo issue adds a project and agents."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USER = "demo"
DEMO_PASSWORD = "fleetdeck-demo"  # documented in the README; the demo only listens on loopback


class Command(BaseCommand):
    help = "Create the demo login (idempotent)."

    def handle(self, *args, **options):
        users = get_user_model()
        user, created = users.objects.get_or_create(username=DEMO_USER, defaults={"is_staff": True})
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.is_staff = user.is_superuser = True
            user.save()
        self.stdout.write(f"Demo login: {DEMO_USER} / {DEMO_PASSWORD}")
