# What holds once every custom config has its project (0012): names unique within a project, the
# built-ins global.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0014_custom_configs_to_their_projects"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="deploymentconfig",
            constraint=models.UniqueConstraint(
                fields=("project", "name"), name="deploymentconfig_unique_name_per_project"
            ),
        ),
        migrations.AddConstraint(
            model_name="deploymentconfig",
            constraint=models.UniqueConstraint(
                condition=models.Q(("project__isnull", True)),
                fields=("name",),
                name="deploymentconfig_unique_name_without_project",
            ),
        ),
        migrations.AddConstraint(
            model_name="deploymentconfig",
            constraint=models.CheckConstraint(
                condition=models.Q(("builtin", False), ("project__isnull", True), _connector="OR"),
                name="deploymentconfig_builtins_are_global",
            ),
        ),
    ]
