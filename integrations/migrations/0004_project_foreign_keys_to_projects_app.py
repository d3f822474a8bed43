"""The foreign keys to Project follow it from dashboard/ to projects/ (state only: same table)."""

import django.db.models.deletion
from django.db import migrations, models


def one_project(related_name: str):
    return models.OneToOneField(
        on_delete=django.db.models.deletion.CASCADE, related_name=related_name, to="projects.project"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_awsconnection_external_id"),
        ("projects", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="awsconnection", name="project", field=one_project("aws_connection")
                ),
                migrations.AlterField(
                    model_name="githubconnection", name="project", field=one_project("github_connection")
                ),
                migrations.AlterField(
                    model_name="githubdelivery",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="projects.project"
                    ),
                ),
                migrations.AlterField(
                    model_name="jiraconnection", name="project", field=one_project("jira_connection")
                ),
            ],
            database_operations=[],
        ),
    ]
