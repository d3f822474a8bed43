"""Build the agent wheelhouse served at /agent/dist/ now, instead of on the first request."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from deployments.agent_dist.build import DistUnavailable, dist_files, wheelhouse


class Command(BaseCommand):
    help = (
        "Build (or find, if the agent's sources are unchanged) the wheelhouse hosts install "
        "fleetdeck-agent from, and list its files."
    )

    def handle(self, *args, **options):
        try:
            directory = wheelhouse()
        except DistUnavailable as exc:
            raise CommandError(str(exc)) from None
        for dist in dist_files(directory):
            self.stdout.write(f"{dist.name}  {dist.size} bytes  sha256={dist.sha256}")
        self.stdout.write(f"Served from {directory} at /agent/dist/")
