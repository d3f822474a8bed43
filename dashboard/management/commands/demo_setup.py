"""Idempotent demo seed: the login, project, application and deployment group of `make demo`.

`python -m config.stack --demo` runs the same steps and then starts the agents and deploys; this
command is for seeding a database on its own.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dashboard.demo import DemoError, seed


class Command(BaseCommand):
    help = "Create the demo login, project, application and deployment group (idempotent)."

    def handle(self, *args, **options):
        user, password = seed.ensure_login(settings.VAR_DIR)
        try:
            project, application, group = seed.ensure_project(user)
        except DemoError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Project {project.slug}: application {application.name}, deployment group {group.name}"
        )
        self.stdout.write(f"Demo login: {user.get_username()} / {password}")
