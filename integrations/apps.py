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
