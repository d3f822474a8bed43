# Application names are unique within a project, not across all projects (issue 14, item 11).

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0003_api_token_expiry"),
        ("deployments", "0011_registration_token_limits_and_live_instance_names"),
    ]

    operations = [
        migrations.AlterField(
            model_name="application",
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
        migrations.AddConstraint(
            model_name="application",
            constraint=models.UniqueConstraint(fields=("project", "name"), name="application_unique_name_per_project"),
        ),
        migrations.AddConstraint(
            model_name="application",
            constraint=models.UniqueConstraint(
                condition=models.Q(("project__isnull", True)),
                fields=("name",),
                name="application_unique_name_without_project",
            ),
        ),
    ]
