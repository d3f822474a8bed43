from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from deployments.signals import deployment_changed

        from .receivers import on_deployment_changed

        deployment_changed.connect(on_deployment_changed, dispatch_uid="integrations.deployment_changed")
        from . import tiles

        tiles.register()
        from django.db.models.signals import post_delete, post_save

        from projects.models import Project

        from .models import GitHubConnection, JiraConnection

        for model in (GitHubConnection, JiraConnection, Project):
            for signal in (post_save, post_delete):
                signal.connect(
                    tiles.on_connection_saved,
                    sender=model,
                    dispatch_uid=f"integrations.tiles.{model.__name__}",
                )
