from django.db import migrations, models


def drop_duplicate_attempts(apps, schema_editor):
    """Runs of one attempt that both sent (possible before the claim): keep the first row of each."""
    TriggerDelivery = apps.get_model("integrations", "TriggerDelivery")
    seen = set()
    for row in TriggerDelivery.objects.order_by("id").values("id", "delivery_id", "attempt").iterator():
        key = (row["delivery_id"], row["attempt"])
        if key in seen:
            TriggerDelivery.objects.filter(pk=row["id"]).delete()
        seen.add(key)


class Migration(migrations.Migration):
    dependencies = [("integrations", "0005_deploymentsync_github_posting_claim")]

    operations = [
        migrations.RunPython(drop_duplicate_attempts, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="triggerdelivery",
            constraint=models.UniqueConstraint(
                fields=("delivery_id", "attempt"), name="triggerdelivery_one_run_per_attempt"
            ),
        ),
    ]
