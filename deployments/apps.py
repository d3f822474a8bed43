from django.apps import AppConfig
from django.db.models.signals import post_migrate

BUILTIN_CONFIGS = [
    # OneAtATime is special-cased by name in DeploymentConfig.health_rule(): minimum = fleet - 1.
    ("CodeDeployDefault.OneAtATime", "FLEET_PERCENT", 99),
    ("CodeDeployDefault.HalfAtATime", "FLEET_PERCENT", 50),
    ("CodeDeployDefault.AllAtOnce", "HOST_COUNT", 0),
]


def ensure_builtin_configs(sender=None, using="default", **kwargs) -> None:
    """Run after every migrate (and test flush), so the built-ins always exist."""
    from .models import DeploymentConfig

    for name, kind, value in BUILTIN_CONFIGS:
        DeploymentConfig.objects.using(using).update_or_create(
            name=name,
            project=None,
            defaults={"minimum_healthy_type": kind, "minimum_healthy_value": value, "builtin": True},
        )


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(ensure_builtin_configs, sender=self)
        from config import querycount

        querycount.install()
