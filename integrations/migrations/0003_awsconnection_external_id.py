"""Each AWS connection gets the external ID the server presents when it assumes the project's role."""

from django.db import migrations, models


def fill_external_ids(apps, schema_editor):
    from integrations.models import external_id_for

    AwsConnection = apps.get_model("integrations", "AwsConnection")
    for connection in AwsConnection.objects.filter(external_id=""):
        connection.external_id = external_id_for(connection.project_id)
        connection.save(update_fields=["external_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_trigger_target_encrypted"),
    ]

    operations = [
        migrations.AddField(
            model_name="awsconnection",
            name="external_id",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.RunPython(fill_external_ids, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="awsconnection",
            constraint=models.UniqueConstraint(
                condition=models.Q(("external_id", ""), _negated=True),
                fields=("external_id",),
                name="awsconnection_unique_external_id",
            ),
        ),
    ]
