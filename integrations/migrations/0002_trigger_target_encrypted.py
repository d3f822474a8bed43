"""Trigger targets are encrypted at rest: a Slack incoming-webhook URL is a credential."""

from django.db import migrations

import core.crypto


def encrypt_targets(apps, schema_editor):
    # Raw SQL: the field now decrypts what it reads, and the stored targets are still plain text.
    connection = schema_editor.connection
    table = connection.ops.quote_name("integrations_trigger")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, target FROM {table}")  # noqa: S608 - a fixed table name
        for pk, target in cursor.fetchall():
            if target and not target.startswith(core.crypto.PREFIX):
                encrypted = core.crypto.encrypt(target)
                cursor.execute(f"UPDATE {table} SET target = %s WHERE id = %s", [encrypted, pk])  # noqa: S608


def decrypt_targets(apps, schema_editor):
    connection = schema_editor.connection
    table = connection.ops.quote_name("integrations_trigger")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, target FROM {table}")  # noqa: S608 - a fixed table name
        for pk, target in cursor.fetchall():
            if target and target.startswith(core.crypto.PREFIX):
                plain = core.crypto.decrypt(target)
                cursor.execute(f"UPDATE {table} SET target = %s WHERE id = %s", [plain, pk])  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [("integrations", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="trigger",
            name="target",
            field=core.crypto.EncryptedTextField(max_length=1000),
        ),
        migrations.RunPython(encrypt_targets, decrypt_targets),
    ]
