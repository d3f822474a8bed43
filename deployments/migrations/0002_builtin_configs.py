from django.db import migrations

BUILTINS = [
    # OneAtATime is special-cased by name in DeploymentConfig.health_rule(): minimum = fleet - 1.
    ("CodeDeployDefault.OneAtATime", "FLEET_PERCENT", 99),
    ("CodeDeployDefault.HalfAtATime", "FLEET_PERCENT", 50),
    ("CodeDeployDefault.AllAtOnce", "HOST_COUNT", 0),
]


def create(apps, schema_editor):
    DeploymentConfig = apps.get_model("deployments", "DeploymentConfig")
    for name, kind, value in BUILTINS:
        DeploymentConfig.objects.update_or_create(
            name=name, defaults={"minimum_healthy_type": kind, "minimum_healthy_value": value, "builtin": True}
        )


def remove(apps, schema_editor):
    apps.get_model("deployments", "DeploymentConfig").objects.filter(builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("deployments", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
