# Custom deployment configs belong to a project (issue 14, item 6): the column, and names no longer
# unique across projects. 0012 gives the existing custom configs to their projects; 0013 adds the
# constraints that hold from then on.

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0003_api_token_expiry"),
        ("deployments", "0012_application_names_per_project"),
    ]

    operations = [
        migrations.AddField(
            model_name="deploymentconfig",
            name="project",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deployment_configs",
                to="dashboard.project",
            ),
        ),
        migrations.AlterField(
            model_name="deploymentconfig",
            name="name",
            field=models.CharField(
                max_length=100,
                validators=[
                    django.core.validators.RegexValidator(
                        "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
                        "Use 1-100 letters, digits, dots, dashes or underscores, starting with a letter or digit.",
                    )
                ],
            ),
        ),
    ]
