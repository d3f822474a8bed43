"""`manage.py import_codedeploy --project SLUG [--region R] [--user USERNAME] [--copy-ec2-tags]`: import the AWS account's
CodeDeploy applications, deployment groups, custom deployment configs and latest revisions into a
project, through the project's AWS connection (integrations.aws.codedeploy_import). Safe to run again."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from integrations.aws.client import AwsError
from integrations.aws.codedeploy_import import import_codedeploy
from projects.models import Membership, Project, Role


class Command(BaseCommand):
    help = "Import an AWS account's CodeDeploy set-up into a project (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--region", default=None, help="AWS region (default: the connection's)")
        parser.add_argument(
            "--copy-ec2-tags",
            action="store_true",
            help="copy EC2 tags onto agents whose EC2 instance id the project's AWS account confirms",
        )
        parser.add_argument(
            "--user", default=None, help="the owner the import acts as (default: the project's first owner)"
        )

    def handle(
        self, *args, project: str, region: str | None, user: str | None, copy_ec2_tags: bool, **options
    ):
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"No project with the slug {project}.")
        owners = Membership.objects.filter(project=found, role=Role.OWNER).select_related("user")
        if user:
            owner = get_user_model().objects.filter(username=user).first()
            if owner is None or not owners.filter(user=owner).exists():
                raise CommandError(f"{user} is not an owner of {project}: the import acts as an owner.")
        else:
            first = owners.order_by("pk").first()
            if first is None:
                raise CommandError(f"{project} has no owner for the import to act as.")
            owner = first.user
        try:
            report = import_codedeploy(found, owner, region=region, copy_tags=copy_ec2_tags)
        except AwsError as exc:
            raise CommandError(
                f"Could not read CodeDeploy through {project}'s AWS connection: {exc}"
            ) from None
        except PermissionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(report.text())
