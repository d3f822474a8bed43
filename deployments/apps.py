from django.apps import AppConfig
from django.db.models.signals import post_migrate

from projects.signals import deletion_blocked_by, project_deleting

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
        from . import tasks  # noqa: F401  (registers the tasks `rollout.dispatch` sends by name, in every process)
        from .project_deletion import delete_history, running_deployment

        post_migrate.connect(ensure_builtin_configs, sender=self)
        deletion_blocked_by.connect(running_deployment, dispatch_uid="deployments.running_deployment")
        project_deleting.connect(delete_history, dispatch_uid="deployments.delete_history")
