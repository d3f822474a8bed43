"""The foreign keys to Project follow it from dashboard/ to projects/ (state only: same table)."""

import django.db.models.deletion
from django.db import migrations, models


def project_key(related_name: str):
    return models.ForeignKey(
        blank=True,
        null=True,
        on_delete=django.db.models.deletion.CASCADE,
        related_name=related_name,
        to="projects.project",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0015_deploymentconfig_names_per_project"),
        ("projects", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="application", name="project", field=project_key("applications")
                ),
                migrations.AlterField(
                    model_name="deploymentconfig", name="project", field=project_key("deployment_configs")
                ),
                migrations.AlterField(model_name="instance", name="project", field=project_key("instances")),
                migrations.AlterField(
                    model_name="registrationtoken", name="project", field=project_key("registration_tokens")
                ),
            ],
            database_operations=[],
        ),
    ]
