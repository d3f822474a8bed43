"""Issue an access key for the CodeDeploy-compatible endpoint (`{server}/codedeploy`).

The same kind of key users create on their profile page: scoped to one project, acting with the user's
role there, shown once here (the secret is stored encrypted, since SigV4 needs it) and revocable there
or with `python manage.py revokeaccesskey KEY_ID`.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from projects.models import AccessKey, Membership, Project


class Command(BaseCommand):
    help = (
        "Print a new CodeDeploy access key (AccessKeyId and SecretAccessKey) for USERNAME in project SLUG. "
        "The secret is shown once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--project", required=True, help="The slug of the project the key acts in.")

    def handle(self, *args, username: str, project: str, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(
                f"No user named {username!r}. Create one first: python manage.py createsuperuser"
            ) from None
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"No project {project!r}. Create it on the dashboard first.")
        if not Membership.objects.filter(user=user, project=found).exists():
            raise CommandError(f"{username} is not a member of {project}; add them to its team first.")
        key, secret = AccessKey.issue(user, found)
        self.stdout.write(f"AccessKeyId: {key.key_id}")
        self.stdout.write(f"SecretAccessKey: {secret}")
