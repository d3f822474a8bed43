from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        # Both import models, so not before the app registry is ready.
        from . import (
            checks,  # noqa: F401 - registers the system checks
            outside_tiles,
        )

        outside_tiles.connect()
